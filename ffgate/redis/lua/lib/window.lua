-- A sliding 60 s window: requests in a sorted set scored by their time (ms). Exact; one entry a request.
-- Used by each client's request rate (ffgate.clients.rate_limit) and by the org budget (lib/budget.lua).
local function window_wait(key, now, limit)  -- ms until one more request fits (0: now), requests in it
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 60000)
  local used = redis.call('ZCARD', key)
  if used < limit then return 0, used end
  -- more than `limit` only if the limit was lowered meanwhile: wait for the entry that brings it under
  local entry = redis.call('ZRANGE', key, used - limit, used - limit, 'WITHSCORES')
  return math.max(1, tonumber(entry[2]) + 60000 - now), used
end
local function window_take(key, now, member, ttl_ms)  -- count a request; ms until the oldest one leaves
  redis.call('ZADD', key, string.format('%.3f', now), member)
  redis.call('PEXPIRE', key, ttl_ms)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + 60000 - now)
end
