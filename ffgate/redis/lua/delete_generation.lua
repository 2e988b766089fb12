-- Delete a finished generation (ffgate.generations.stored): the record, its schedule entries, its place in
-- its client's listing, the reuse index entries that name it and its references to stored objects.
-- Answers {'missing'} | {'active', state} (nothing is deleted) | {'deleted', sha...}: the objects that no
-- live generation refers to any more, for the caller to remove from the store.
-- uses: states outputs
-- KEYS: record schedule
-- ARGV: gen_id index_prefix ref_prefix reuse_prefix now
local found = redis.call('HMGET', K.record, 'state', 'outputs', 'clientId', 'reuseFingerprint')
if not found[1] then return {'missing'} end
if not TERMINAL[found[1]] then return {'active', found[1]} end
local orphans = {}
if found[2] then orphans = drop_refs(A.ref_prefix, cjson.decode(found[2]), A.gen_id, tonumber(A.now)) end
if found[4] then
  for _, key in ipairs(reuse_keys(A.reuse_prefix, found[3] or '', found[4])) do
    if redis.call('GET', key) == A.gen_id then redis.call('DEL', key) end
  end
end
redis.call('DEL', K.record)
redis.call('ZREM', K.schedule, 'poll:' .. A.gen_id, 'submit:' .. A.gen_id, 'copy:' .. A.gen_id)
if found[3] then redis.call('ZREM', A.index_prefix .. found[3], A.gen_id) end
return {'deleted', unpack(orphans)}
