--[[
  Records which generations a sidecar reads, with an expiry, and when it last heartbeated.

  KEYS[1]  sidecar ({p}sidecar:ID)
  KEYS[2]  sidecars ({p}sidecars)
  ARGV[1]  id
  ARGV[2]  record (JSON of the generations in use)
  ARGV[3]  ttl (ms)
  Returns  the heartbeat time (ms, Redis clock)
]]
--- @include lib/now.lua
local t = now_ms()
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], t, ARGV[1])
return t
