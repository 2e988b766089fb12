-- Take attempt number `attempt` of a webhook delivery, unless another worker already did. Answers 1 or 0.
-- KEYS: delivery
-- ARGV: attempt
if redis.call('HGET', K.delivery, 'attempt') ~= A.attempt then return 0 end
redis.call('HSET', K.delivery, 'attempt', tonumber(A.attempt) + 1)
return 1
