-- Take one request of the org budget now, or say how long to wait (ffgate.budget.org_budget).
-- uses: window budget
-- KEYS: window day pause pace
-- ARGV: now rpm rpd burst to_midnight member
-- Answers 0 (taken, counted as `member`) or the ms to wait.
local now, rpm, rpd, burst = tonumber(A.now), tonumber(A.rpm), tonumber(A.rpd), tonumber(A.burst)
local wait = budget_wait(K.window, K.day, K.pause, K.pace, now, rpm, rpd, burst, tonumber(A.to_midnight))
if wait > 0 then return math.max(1, math.ceil(wait)) end
budget_take(K.window, K.day, K.pace, now, rpm, rpd, burst, A.member)
return 0
