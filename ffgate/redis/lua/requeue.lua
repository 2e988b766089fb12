-- Back to the front of its client's queue, keeping its original score: a job refused with 429 (state
-- `sending`) or one whose back-off is over (state `queued`, out of every queue). Answers 1, or 0 if the
-- job was no longer in `from_state`.
-- uses: states enqueue
-- KEYS: record schedule queues passes vtime rates
-- ARGV: gen_id from_state queue_prefix now wake tau
if redis.call('HGET', K.record, 'state') ~= A.from_state then return 0 end
redis.call('HSET', K.record, 'state', QUEUED)
local client = redis.call('HGET', K.record, 'clientId') or ''
local score = redis.call('HGET', K.record, 'enqueuedAt') or A.now
enqueue(A.queue_prefix, K.queues, K.passes, K.vtime, K.rates, client, A.gen_id, score, tonumber(A.now), false,
  tonumber(A.tau))
redis.call('ZREM', K.schedule, 'submit:' .. A.gen_id)
redis.call('PUBLISH', A.wake, 'submit')
return 1
