-- The clients with waiting jobs, flat: name, pass, queue length, name, pass, ...
-- KEYS: queues
-- ARGV: queue_prefix
local out = {}
local all = redis.call('ZRANGE', K.queues, 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do
  out[#out + 1] = all[i]
  out[#out + 1] = all[i + 1]
  out[#out + 1] = redis.call('ZCARD', A.queue_prefix .. all[i])
end
return out
