-- Apply a change to a generation record if its state is one of `allowed` ('*': any), atomically: the new
-- state, fields, the schedule entry, and for a change of the public status a new `seq`, the change
-- published on the record's channel and the webhook delivery of that event, all in this one step.
-- uses: states deliveries
-- KEYS: record schedule
-- ARGV: allowed to now_iso schedule_op result_ttl channel gen_id delivery_prefix delivery_ttl now wake fields...
-- `schedule_op`: '' leave it, 'rem' remove the job's entries, '<kind>:<due>' schedule `<kind>:<id>` (a
-- terminal state removes `poll:` and `submit:` entries either way).
-- Answers {applied 0|1, state before ('' when there is no record), createdAt, submittedAt, cancelRequested}
-- (the last three when applied, '' when not set: for the stage timings, and so the worker recording a
-- submit learns in the same step whether a cancel was asked for meanwhile).
local cur = redis.call('HGET', K.record, 'state')
if not cur then return {0, ''} end
if A.allowed ~= '*' and not string.find(',' .. A.allowed .. ',', ',' .. cur .. ',', 1, true) then
  return {0, cur}
end
local new = A.to
for i = 1, #fields, 2 do redis.call('HSET', K.record, fields[i], fields[i + 1]) end
if new ~= '' then
  redis.call('HSET', K.record, 'state', new)
  if public(new) ~= public(cur) then
    local seq = redis.call('HINCRBY', K.record, 'seq', 1)
    redis.call('HSET', K.record, 'updatedAt', A.now_iso)
    redis.call('PUBLISH', A.channel, cjson.encode({id = A.gen_id, status = public(new), seq = seq}))
    -- A webhook delivery, created in the same step as the change it reports, so none is ever lost.
    local event = 'generation.' .. public(new)
    local events = redis.call('HGET', K.record, 'webhookEvents')
    if events and string.find(events, ',' .. event .. ',', 1, true) then
      local wid = delivery_id(A.gen_id, seq)
      schedule_delivery(A.delivery_prefix, K.schedule, wid, A.gen_id, event, A.now, A.delivery_ttl, true)
      redis.call('HSET', K.record, 'lastWebhookId', wid)
      redis.call('PUBLISH', A.wake, 'deliver')
    end
  end
  if TERMINAL[new] then
    redis.call('HSET', K.record, 'completedAt', A.now_iso)
    redis.call('EXPIRE', K.record, tonumber(A.result_ttl))
  end
end
local op = A.schedule_op
if op == 'rem' or TERMINAL[new] then
  redis.call('ZREM', K.schedule, 'poll:' .. A.gen_id, 'submit:' .. A.gen_id)
end
if op ~= '' and op ~= 'rem' then  -- e.g. `copy:<due>` with a success: its outputs are copied next
  local kind, score = string.match(op, '^(%a+):(.+)$')
  redis.call('ZADD', K.schedule, tonumber(score), kind .. ':' .. A.gen_id)
  if kind == 'poll' then redis.call('ZREM', K.schedule, 'submit:' .. A.gen_id) end
end
local after = redis.call('HMGET', K.record, 'createdAt', 'submittedAt', 'cancelRequested')
return {1, cur, after[1] or '', after[2] or '', after[3] or ''}
