-- Pick the next jobs to send under the fair order, as many as the org budget and the breaker allow now (up
-- to `limit`): spend the budget on each and claim it queued -> sending under a `submit:<id>` lease
-- (ffgate.budget.fair_queue). One call claims a batch, so a busy dispatcher pays one round trip for several.
-- uses: states window budget breaker
-- KEYS: window day pause pace breaker queues passes vtime schedule memo
-- ARGV: now rpm rpd burst to_midnight member lease_end queue_prefix record_prefix weights probe_ms stride limit
-- `weights`: JSON {client: weight}. The n-th job claimed is counted in the budget as `<member>-<n>`.
-- Answers {0, ms to wait} | {1} (nothing waits) | {2, probe 0|1, id, record (HGETALL), id, record, ...}.
-- `memo` (unique to the call, as `member` is): redis-py sends a command again when its answer was lost (a
-- cut connection; a frozen Redis runs the first one when it wakes), so the claims of a call that already ran
-- are answered again, never made twice: a second batch would leave the first in `sending` with nobody to
-- send it, to fail as outcome-unknown when its lease ran out.
local memo = redis.call('GET', K.memo)
if memo then
  local first = cjson.decode(memo)  -- {probe, id, id, ...}
  local again = {2, first[1]}
  for i = 2, #first do
    again[#again + 1] = first[i]
    again[#again + 1] = redis.call('HGETALL', A.record_prefix .. first[i])
  end
  return again
end
if redis.call('ZCARD', K.queues) == 0 then return {1} end
local now, rpm, rpd, burst = tonumber(A.now), tonumber(A.rpm), tonumber(A.rpd), tonumber(A.burst)
local to_midnight, limit = tonumber(A.to_midnight), tonumber(A.limit)
local wait = budget_wait(K.window, K.day, K.pause, K.pace, now, rpm, rpd, burst, to_midnight)
local gate = breaker_wait(K.breaker, now)
if gate > wait then wait = gate end
if wait > 0 then return {0, math.max(1, math.ceil(wait))} end
local weights = cjson.decode(A.weights)
local claimed, count, probe = {}, 0, 0
while count < limit do
  -- each job taken spends budget: the next one may have to wait for it
  if count > 0 and budget_wait(K.window, K.day, K.pause, K.pace, now, rpm, rpd, burst, to_midnight) > 0 then
    break
  end
  local top = redis.call('ZRANGE', K.queues, 0, 0, 'WITHSCORES')
  if #top == 0 then break end
  local client, pass = top[1], tonumber(top[2])
  local qkey = A.queue_prefix .. client
  local id = redis.call('ZPOPMIN', qkey)[1]
  -- a canceled job may linger in a queue for a moment: skip it without spending anything
  local live = id and redis.call('HGET', A.record_prefix .. id, 'state') == QUEUED
  local next_pass = pass
  if live then next_pass = pass + math.floor(tonumber(A.stride) / (tonumber(weights[client]) or 1)) end
  if redis.call('ZCARD', qkey) == 0 then
    redis.call('ZREM', K.queues, client)
    redis.call('HSET', K.passes, client, string.format('%.0f', next_pass))
  else
    redis.call('ZADD', K.queues, string.format('%.0f', next_pass), client)
  end
  if live then
    count = count + 1
    redis.call('SET', K.vtime, string.format('%.0f', pass))
    budget_take(K.window, K.day, K.pace, now, rpm, rpd, burst, A.member .. '-' .. count)
    local record = A.record_prefix .. id
    redis.call('HSET', record, 'state', SENDING)
    redis.call('HINCRBY', record, 'submitAttempts', 1)
    redis.call('ZADD', K.schedule, A.lease_end, 'submit:' .. id)
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = redis.call('HGETALL', record)
    if gate < 0 then  -- half-open: this one job is the breaker's probe, and nothing goes beside it
      redis.call('HSET', K.breaker, 'probeUntil', now + tonumber(A.probe_ms))
      probe = 1
      break
    end
  end
end
if count == 0 then return {1} end
local ids = {probe}
for i = 1, #claimed, 2 do ids[#ids + 1] = claimed[i] end
redis.call('SET', K.memo, cjson.encode(ids), 'EX', 60)
return {2, probe, unpack(claimed)}
