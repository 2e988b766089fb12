-- Claim up to `limit` due entries of the schedule: each is pushed to `lease_end`, so it comes back by
-- itself if the claiming worker dies. Answers the claimed members.
-- KEYS: schedule
-- ARGV: now limit lease_end
local due = redis.call('ZRANGEBYSCORE', K.schedule, '-inf', A.now, 'LIMIT', 0, tonumber(A.limit))
for _, member in ipairs(due) do redis.call('ZADD', K.schedule, A.lease_end, member) end
return due
