-- Authenticate an API key and count the request against its client's rate limit (lib/authenticate.lua).
-- uses: window authenticate
-- KEYS: apikey
-- ARGV: digest client_prefix window_prefix member
return authenticate(K.apikey, A.digest, A.client_prefix, A.window_prefix, A.member) or false
