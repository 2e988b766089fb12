-- Authenticate a token from the gateway's `/ims/token` (ffgate.clients.access_tokens): it names the hash of
-- the API key it was issued for, which is then looked up and counted exactly as that key would be
-- (lib/authenticate.lua). So the token stops working when it expires, and at once when the client is
-- revoked or its key rotated (the key's index entry is gone then).
-- uses: window authenticate
-- KEYS: token
-- ARGV: apikey_prefix client_prefix window_prefix member
local digest = redis.call('GET', K.token)
if not digest then return false end
return authenticate(A.apikey_prefix .. digest, digest, A.client_prefix, A.window_prefix, A.member) or false
