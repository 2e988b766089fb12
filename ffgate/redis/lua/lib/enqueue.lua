-- Put a job in its client's queue and the client in the fair order (ffgate.budget.fair_queue); count
-- the arrival for ETAs if asked: a count decaying with time constant `tau` (s), when it was last counted,
-- and the first arrival.
local function enqueue(prefix, clients, passes, vtime, rates, client, id, score, now_s, arrival, tau)
  redis.call('ZADD', prefix .. client, score, id)
  if not redis.call('ZSCORE', clients, client) then
    local pass = tonumber(redis.call('GET', vtime) or '0')
    local old = tonumber(redis.call('HGET', passes, client) or '0')
    if old > pass then pass = old end
    redis.call('ZADD', clients, string.format('%.0f', pass), client)
  end
  if arrival then
    local count, first, raw = 0, now_s, redis.call('HGET', rates, client)
    if raw then
      local c, at, f = string.match(raw, '^(%S+) (%S+) (%S+)$')
      count = tonumber(c) * math.exp(-math.max(0, now_s - tonumber(at)) / tau)
      first = tonumber(f)
    end
    redis.call('HSET', rates, client, string.format('%.6f %.3f %.3f', count + 1, now_s, first))
  end
end
