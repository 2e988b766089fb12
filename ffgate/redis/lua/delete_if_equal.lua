-- Delete a key only if it still holds `value` (another process may have replaced it). Answers 1 or 0.
-- KEYS: key
-- ARGV: value
if redis.call('GET', K.key) == A.value then return redis.call('DEL', K.key) end
return 0
