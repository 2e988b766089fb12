-- A page of a client's generations, newest first, with their records: what listing needs in one step.
-- KEYS: index
-- ARGV: below count record_prefix
-- `below`: '+inf' or '(<position>'. Answers {id, position, {record field, value, ...}, id, ...}; an expired
-- record's fields are empty.
local out = {}
local rows = redis.call('ZREVRANGEBYSCORE', K.index, A.below, '-inf', 'WITHSCORES', 'LIMIT', 0, tonumber(A.count))
for i = 1, #rows, 2 do
  out[#out + 1] = rows[i]
  out[#out + 1] = rows[i + 1]
  out[#out + 1] = redis.call('HGETALL', A.record_prefix .. rows[i])
end
return out
