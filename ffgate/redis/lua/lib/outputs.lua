-- Stored outputs (ffgate.generations.outputs, ffgate.generations.stored): the references that keep a
-- stored object alive, and the reuse index of seeded requests. needs: lib/states.lua.
-- `objref:<sha>` holds the generations whose outputs are that object, scored by when each record expires;
-- the key itself lasts a day past the latest of them.
local function add_refs(ref_prefix, outputs, gen_id, expiry)
  for _, output in ipairs(outputs) do
    local sha = output.image and output.image.sha256
    if sha and sha ~= cjson.null then
      local key = ref_prefix .. sha
      redis.call('ZADD', key, expiry, gen_id)
      local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
      redis.call('EXPIREAT', key, math.ceil(tonumber(last[2])) + 86400)
    end
  end
end
-- Drop `gen_id`'s references; answers the objects no live generation refers to any more.
local function drop_refs(ref_prefix, outputs, gen_id, now)
  local orphans = {}
  for _, output in ipairs(outputs) do
    local sha = output.image and output.image.sha256
    if sha and sha ~= cjson.null then
      local key = ref_prefix .. sha
      redis.call('ZREM', key, gen_id)
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
      if redis.call('ZCARD', key) == 0 then
        redis.call('DEL', key)
        orphans[#orphans + 1] = sha
      end
    end
  end
  return orphans
end
local function all_stored(outputs)
  if #outputs == 0 then return false end
  for _, output in ipairs(outputs) do
    if not (output.image and output.image.stored == true) then return false end
  end
  return true
end
-- The reuse index keys of a record's fingerprint: its client's own and the one shared across clients.
local function reuse_keys(reuse_prefix, client, fingerprint)
  return {reuse_prefix .. client .. ':' .. fingerprint, reuse_prefix .. '*:' .. fingerprint}
end
-- The stored succeeded generation that `key` names, if it is still one: (its id, its outputs, as JSON).
local function reuse_source(gen_prefix, key)
  local source = redis.call('GET', key)
  if not source then return nil end
  local found = redis.call('HMGET', gen_prefix .. source, 'state', 'outputs')
  if found[1] ~= SUCCEEDED or not found[2] then return nil end
  local outputs = cjson.decode(found[2])
  if not all_stored(outputs) then return nil end
  return source, outputs, found[2]
end
