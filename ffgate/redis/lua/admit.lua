-- Admit a generation: everything a submit decides, decided atomically (ffgate.generations.admission).
--   1. who is asking (skipped when `client` is given): the API key's client, the request counted against
--      its rate limit, and `scope`;
--   2. the Idempotency-Key: a key this client used in the last 24 h answers with the job it created, or a
--      mismatch for another body, and nothing is written;
--   2b. a seeded request (`reuse_key` given) equal to a stored succeeded generation is answered from its
--      outputs at once: the record is written succeeded, nothing is queued, no quota is counted;
--   3. the daily image quota, counted for the client's UTC day; past it nothing is written;
--   4. the write: the record, the client's fair queue, the `generation.queued` delivery if asked for, the
--      client's listing index, the idempotency key.
-- uses: window authenticate enqueue deliveries states outputs
-- KEYS: record schedule apikey queues passes vtime rates
-- ARGV: client digest client_prefix window_prefix member quota gen_id images now fingerprint index_ttl record images_key index_key idem_key idem_ttl quota_ttl scope delivery_prefix delivery_ttl wake queue_prefix tau reuse_key gen_prefix ref_prefix result_ttl now_iso succeeded_webhook
-- `client`: '' to authenticate (then `apikey` is the key's index entry); `quota` -1: none. `images_key`,
-- `index_key` and `idem_key` ('': no Idempotency-Key) are templates in which '{c}' stands for the client
-- id. `record`: the record's fields as JSON. `delivery_prefix` '': no `generation.queued` webhook.
-- Answers {outcome, detail, caller...}: 'unauthorized' | 'refused' | 'mismatch' | 'replay' (detail: the
-- job id) | 'quota' (detail: 'used quota') | 'created' | 'reused' (detail: the client id); `caller` is what
-- `authenticate` found, when it ran.
local function key(template, client)
  local at = string.find(template, '{c}', 1, true)
  if not at then return template end
  return string.sub(template, 1, at - 1) .. client .. string.sub(template, at + 3)
end
local client, quota, caller = A.client, tonumber(A.quota), {}
if client == '' then
  caller = authenticate(K.apikey, A.digest, A.client_prefix, A.window_prefix, A.member)
  if not caller then return {'unauthorized', ''} end
  if caller[7] == 1 or not string.find(',' .. caller[2] .. ',', ',' .. A.scope .. ',', 1, true) then
    return {'refused', '', unpack(caller)}
  end
  client = caller[1]
  if caller[3] == '' then quota = -1 else quota = tonumber(caller[3]) end
end
-- The same call sent again by redis-py after its answer was lost (a cut connection; a frozen Redis runs the
-- first one when it wakes): `gen_id` is new for every request, so a record of that id is this call's own,
-- answered as it was the first time and not written again (a second write would queue it again).
if redis.call('EXISTS', K.record) == 1 then
  if redis.call('HEXISTS', K.record, 'reusedFrom') == 1 then return {'reused', client, unpack(caller)} end
  return {'created', client, unpack(caller)}
end
local idem = ''
if A.idem_key ~= '' then
  idem = key(A.idem_key, client)
  local seen = redis.call('GET', idem)
  if seen then
    local fingerprint, id = string.match(seen, '^(%S+) (%S+)$')
    if fingerprint ~= A.fingerprint then return {'mismatch', '', unpack(caller)} end
    return {'replay', id, unpack(caller)}
  end
end
local function listed()  -- the client's listing entry and the idempotency key, for a new record
  local index = key(A.index_key, client)
  local newest = redis.call('ZREVRANGE', index, 0, 0, 'WITHSCORES')
  redis.call('ZADD', index, (tonumber(newest[2]) or 0) + 1, A.gen_id)
  redis.call('EXPIRE', index, tonumber(A.index_ttl))
  if idem ~= '' then redis.call('SET', idem, A.fingerprint .. ' ' .. A.gen_id, 'EX', tonumber(A.idem_ttl)) end
end
local function fields_of(record)
  local fields = {'clientId', client}
  for name, value in pairs(cjson.decode(record)) do
    fields[#fields + 1] = name
    fields[#fields + 1] = value
  end
  return fields
end
if A.reuse_key ~= '' then
  local source, outputs, raw = reuse_source(A.gen_prefix, key(A.reuse_key, client))
  if source then
    local ttl = tonumber(A.result_ttl)
    redis.call('HSET', K.record, unpack(fields_of(A.record)))
    redis.call('HSET', K.record, 'state', SUCCEEDED, 'outputs', raw, 'reusedFrom', source,
      'completedAt', A.now_iso, 'updatedAt', A.now_iso)
    redis.call('HDEL', K.record, 'enqueuedAt')
    redis.call('EXPIRE', K.record, ttl)
    add_refs(A.ref_prefix, outputs, A.gen_id, tonumber(A.now) + ttl)
    if A.succeeded_webhook ~= '' then
      local wid = delivery_id(A.gen_id, 1)
      schedule_delivery(A.succeeded_webhook, K.schedule, wid, A.gen_id, 'generation.succeeded', A.now,
        A.delivery_ttl, true)
      redis.call('HSET', K.record, 'lastWebhookId', wid)
      redis.call('PUBLISH', A.wake, 'deliver')
    end
    listed()
    return {'reused', client, unpack(caller)}
  end
end
local images = tonumber(A.images)
if quota >= 0 then
  local counter = key(A.images_key, client)
  local used = tonumber(redis.call('GET', counter) or '0')
  if used + images > quota then return {'quota', used .. ' ' .. quota, unpack(caller)} end
  redis.call('INCRBY', counter, images)
  redis.call('EXPIRE', counter, tonumber(A.quota_ttl))
end
redis.call('HSET', K.record, unpack(fields_of(A.record)))
enqueue(A.queue_prefix, K.queues, K.passes, K.vtime, K.rates, client, A.gen_id, A.now, tonumber(A.now), true,
  tonumber(A.tau))
if A.delivery_prefix ~= '' then  -- the job asked for `generation.queued`: its delivery is made with the job
  local wid = delivery_id(A.gen_id, 1)
  schedule_delivery(A.delivery_prefix, K.schedule, wid, A.gen_id, 'generation.queued', A.now, A.delivery_ttl,
    true)
  redis.call('HSET', K.record, 'lastWebhookId', wid)
end
redis.call('PUBLISH', A.wake, 'submit')
listed()
return {'created', client, unpack(caller)}
