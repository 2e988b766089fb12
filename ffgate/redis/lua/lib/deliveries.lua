-- The one place a webhook delivery is scheduled (ffgate.webhooks.schedule): its message hash under
-- `prefix .. wid`, kept `ttl` seconds, and its due `deliver:<wid>` entry in the schedule. `fresh` starts
-- the attempt count at 0; a redelivery keeps the count it has.
local function schedule_delivery(prefix, schedule, wid, gen_id, event, at, ttl, fresh)
  local key = prefix .. wid
  redis.call('HSET', key, 'genId', gen_id, 'event', event, 'firstAt', at)
  if fresh then redis.call('HSET', key, 'attempt', '0') else redis.call('HSETNX', key, 'attempt', '0') end
  redis.call('EXPIRE', key, tonumber(ttl))
  redis.call('ZADD', schedule, tonumber(at), 'deliver:' .. wid)
end
local function delivery_id(gen_id, seq)  -- the webhook-id of the event that made the record's `seq`
  return 'msg_' .. gen_id .. '_' .. seq
end
