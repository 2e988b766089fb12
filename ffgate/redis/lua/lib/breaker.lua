-- The circuit breaker's gate (ffgate.budget.breaker). 0: closed, send; -1: half-open and the caller's
-- request is the probe; > 0: ms until something may go.
local function breaker_wait(key, now)
  local open_until = tonumber(redis.call('HGET', key, 'openUntil') or '0')
  if open_until == 0 then return 0 end
  if now < open_until then return open_until - now end
  local probe_until = tonumber(redis.call('HGET', key, 'probeUntil') or '0')
  if now < probe_until then return probe_until - now end
  return -1
end
