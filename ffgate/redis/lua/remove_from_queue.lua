-- A job leaves its client's queue (canceled or expired); an emptied queue leaves the fair order, keeping
-- its pass so that leaving and rejoining gains nothing.
-- KEYS: queue queues passes
-- ARGV: client gen_id
redis.call('ZREM', K.queue, A.gen_id)
if redis.call('ZCARD', K.queue) == 0 then
  local pass = redis.call('ZSCORE', K.queues, A.client)
  if pass then
    redis.call('ZREM', K.queues, A.client)
    redis.call('HSET', K.passes, A.client, pass)
  end
end
return 1
