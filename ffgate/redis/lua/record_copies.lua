-- Record what a worker copied of a succeeded generation's outputs (ffgate.generations.stored): the outputs,
-- a reference from each stored object to the record (kept as long as the record), the reuse index once
-- every output is stored, and the `copy:` entry rescheduled (`next_due`) or removed ('').
-- Nothing is written once the record is gone (deleted, expired) or not succeeded: the references the copy
-- took are dropped again, and the objects nobody else refers to are answered, for the caller to remove.
-- Answers {1} | {0, sha...}.
-- uses: states outputs
-- KEYS: record schedule
-- ARGV: gen_id outputs attempts next_due ref_prefix reuse_prefix now
local member = 'copy:' .. A.gen_id
local found = redis.call('HMGET', K.record, 'state', 'clientId', 'reuseFingerprint')
if found[1] ~= SUCCEEDED then
  redis.call('ZREM', K.schedule, member)
  return {0, unpack(drop_refs(A.ref_prefix, cjson.decode(A.outputs), A.gen_id, tonumber(A.now)))}
end
local ttl = redis.call('TTL', K.record)
if ttl < 0 then ttl = 0 end
local outputs = cjson.decode(A.outputs)
redis.call('HSET', K.record, 'outputs', A.outputs, 'copyAttempts', A.attempts)
add_refs(A.ref_prefix, outputs, A.gen_id, tonumber(A.now) + ttl)
if found[3] and all_stored(outputs) and ttl > 0 then
  for _, key in ipairs(reuse_keys(A.reuse_prefix, found[2] or '', found[3])) do
    redis.call('SET', key, A.gen_id, 'EX', ttl)
  end
end
if A.next_due == '' then
  redis.call('ZREM', K.schedule, member)
else
  redis.call('ZADD', K.schedule, tonumber(A.next_due), member)
end
return {1}
