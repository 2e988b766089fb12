-- Update, revoke or rotate an existing API client, atomically (ffgate.clients.store). Answers false if
-- there is none, -1 if it is revoked (and `op` is not 'revoke'), else the client's hash as it is now.
-- KEYS: client
-- ARGV: op now apikey_prefix new_digest fields...
if redis.call('EXISTS', K.client) == 0 then return false end
local revoked = (redis.call('HGET', K.client, 'revokedAt') or '') ~= ''
if A.op == 'revoke' then
  if not revoked then
    redis.call('DEL', A.apikey_prefix .. (redis.call('HGET', K.client, 'keyHash') or ''))
    redis.call('HSET', K.client, 'revokedAt', A.now, 'updatedAt', A.now)
  end
  return redis.call('HGETALL', K.client)
end
if revoked then return -1 end
if A.op == 'rotate' then
  redis.call('DEL', A.apikey_prefix .. (redis.call('HGET', K.client, 'keyHash') or ''))
  redis.call('SET', A.apikey_prefix .. A.new_digest, redis.call('HGET', K.client, 'id'))
  redis.call('HSET', K.client, 'keyHash', A.new_digest)
end
for i = 1, #fields, 2 do redis.call('HSET', K.client, fields[i], fields[i + 1]) end
redis.call('HSET', K.client, 'updatedAt', A.now)
return redis.call('HGETALL', K.client)
