-- The states of a generation record (ffgate.generations.states, checked against this by a test).
local QUEUED, SENDING, SUBMITTED, RUNNING = 'queued', 'sending', 'submitted', 'running'
local SUCCEEDED, FAILED, CANCELED = 'succeeded', 'failed', 'canceled'
local TERMINAL = {[SUCCEEDED] = true, [FAILED] = true, [CANCELED] = true}
local function public(state)  -- what clients see: `sending` shows as `queued`
  if state == SENDING then return QUEUED end
  return state
end
