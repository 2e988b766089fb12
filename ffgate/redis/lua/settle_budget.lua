-- Firefly answered the request counted as `member` now: Adobe counted it no later than this, so its
-- window slot runs from now.
-- KEYS: window
-- ARGV: now member
redis.call('ZADD', K.window, 'XX', 'GT', A.now, A.member)
return 1
