-- Send a generation's last webhook event again under its `webhook-id`, retried as a new series. The
-- message may have expired (after its TTL): it is then rebuilt with `event`.
-- uses: deliveries
-- KEYS: delivery schedule
-- ARGV: delivery_prefix wid gen_id event now delivery_ttl wake
local event = redis.call('HGET', K.delivery, 'event') or A.event
schedule_delivery(A.delivery_prefix, K.schedule, A.wid, A.gen_id, event, A.now, A.delivery_ttl, false)
redis.call('PUBLISH', A.wake, 'deliver')
return 1
