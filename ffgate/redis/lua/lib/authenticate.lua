-- Looks an API key's hash up, checks the client is active and counts the request in its window
-- (ffgate.clients.api_keys). needs: lib/window.lua. Returns nil, or
-- {id, scopes, daily quota ('' = none), limit, used, ms until a slot frees, refused (1) or taken (0)}.
-- The client's own keys are derived here from prefixes: fine on one Redis, not on a Redis Cluster.
local function same(a, b)  -- constant time (no early exit) for strings of one length
  if #a ~= #b then return false end
  local diff = 0
  for i = 1, #a do diff = bit.bor(diff, bit.bxor(string.byte(a, i), string.byte(b, i))) end
  return diff == 0
end
local function authenticate(apikey, digest, client_prefix, window_prefix, member)
  local id = redis.call('GET', apikey)
  if not id then return nil end
  local c = redis.call('HMGET', client_prefix .. id,
    'keyHash', 'scopes', 'rpm', 'dailyImageQuota', 'revokedAt')
  -- The record's keyHash differs from the one looked up only if the index entry outlived a rotation.
  if not c[1] or not same(c[1], digest) or (c[5] and c[5] ~= '') then return nil end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local window, limit = window_prefix .. id, tonumber(c[3])
  local wait, used = window_wait(window, now, limit)
  if wait > 0 then return {id, c[2], c[4] or '', limit, used, wait, 1} end
  wait = window_take(window, now, now .. '-' .. member, 61000)
  return {id, c[2], c[4] or '', limit, used + 1, wait, 0}
end
