-- The org budget's checks (ffgate.budget.org_budget), shared by `acquire_budget` and `dispatch`.
-- needs: lib/window.lua. `burst` 0: no pacing (the window alone).
local function budget_wait(win, day, pause, pace, now, rpm, rpd, burst, to_midnight)
  local wait = redis.call('PTTL', pause)
  if wait < 0 then wait = 0 end
  if rpm > 0 then
    if burst > 0 then
      local allow_at = tonumber(redis.call('GET', pace) or '0') - (burst - 1) * 60000 / rpm
      if allow_at - now > wait then wait = allow_at - now end
    end
    local w = window_wait(win, now, rpm)
    if w > wait then wait = w end
  end
  if rpd > 0 and tonumber(redis.call('GET', day) or '0') >= rpd and to_midnight > wait then
    wait = to_midnight
  end
  return wait
end

local function budget_take(win, day, pace, now, rpm, rpd, burst, member)
  if rpm > 0 then
    if burst > 0 then
      local tat = tonumber(redis.call('GET', pace) or '0')
      if tat < now then tat = now end
      tat = tat + 60000 / rpm
      redis.call('SET', pace, string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 60000)
    end
    -- kept 3 minutes: `settle_budget` stamps the entry again when Firefly's answer arrives
    window_take(win, now, member, 180000)
  end
  if rpd > 0 then
    redis.call('INCR', day)
    redis.call('EXPIRE', day, 172800)
  end
end
