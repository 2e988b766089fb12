-- Count a submit's outcome in the circuit breaker of a credential (ffgate.budget.breaker).
--     closed --(threshold failed submits within window_ms)--> open --(cooldown_ms)--> half-open
--     half-open --(the probe succeeds)--> closed;  --(the probe fails)--> open again
-- KEYS: breaker failures
-- ARGV: now outcome probe threshold window_ms cooldown_ms reason nonce
-- `outcome` 'ok' | 'fail', `probe` '1' | '0'. Answers what changed: 'opened', 'reopened', 'closed' or ''.
local now = tonumber(A.now)
local open = redis.call('EXISTS', K.breaker) == 1
if A.outcome == 'ok' then
  redis.call('DEL', K.failures)
  if open and A.probe == '1' then
    redis.call('DEL', K.breaker)
    return 'closed'
  end
  return ''
end
if A.probe == '1' then
  redis.call('HSET', K.breaker, 'openUntil', now + tonumber(A.cooldown_ms), 'probeUntil', 0, 'reason', A.reason)
  return 'reopened'
end
if open then return '' end  -- sent before the breaker opened; already counted as far as it matters
redis.call('ZADD', K.failures, now, A.now .. ':' .. A.nonce)
redis.call('ZREMRANGEBYSCORE', K.failures, '-inf', now - tonumber(A.window_ms))
redis.call('PEXPIRE', K.failures, math.ceil(tonumber(A.window_ms)))
if redis.call('ZCARD', K.failures) >= tonumber(A.threshold) then
  redis.call('HSET', K.breaker, 'openUntil', now + tonumber(A.cooldown_ms), 'probeUntil', 0, 'openedAt', now,
    'reason', A.reason)
  redis.call('DEL', K.failures)
  return 'opened'
end
return ''
