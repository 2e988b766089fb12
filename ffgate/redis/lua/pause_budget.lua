-- Stop every worker sending for `ms` (Firefly answered 429), unless a longer pause is already set.
-- KEYS: pause
-- ARGV: ms
if redis.call('PTTL', K.pause) < tonumber(A.ms) then
  redis.call('SET', K.pause, '1', 'PX', A.ms)
end
return 1
