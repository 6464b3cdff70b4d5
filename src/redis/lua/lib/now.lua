--[[
  now_ms(): Redis's clock in ms (TIME), so that sidecars, loaders and the opt-out API never compare clocks of
  different hosts. Scripts that read TIME and then write need effect replication: the default from Redis 5,
  switched on explicitly for older servers (a no-op on 7).
]]
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
