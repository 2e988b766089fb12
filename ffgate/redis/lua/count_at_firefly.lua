-- How many jobs Firefly holds: the `poll:` entries of the schedule (a job at Firefly has exactly one).
-- KEYS: schedule
-- ARGV:
local n = 0
for _, member in ipairs(redis.call('ZRANGE', K.schedule, 0, -1)) do
  if string.sub(member, 1, 5) == 'poll:' then n = n + 1 end
end
return n
