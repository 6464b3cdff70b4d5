--[[
  Re-publishes a refusal kept by a sidecar (after a wipe): only while it runs, never shortening a longer period
  already recorded.

  KEYS[1]  refused ({p}refused:KEY)
  ARGV[1]  refusedAt (ms)
  ARGV[2]  until (ms)
  Returns  1 written, 0 not
]]
--- @include lib/now.lua
local t = now_ms()
local ttl = tonumber(ARGV[2]) - t
if ttl <= 0 or redis.call('PTTL', KEYS[1]) >= ttl then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 1
