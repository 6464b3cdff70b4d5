--[[
  Forgets sidecars whose record expired, re-checked here so that one heartbeating right now is kept.

  KEYS[1]      sidecars ({p}sidecars)
  KEYS[i + 1]  sidecar record of id i
  ARGV[i]      id i
  Returns      0
]]
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return 0
