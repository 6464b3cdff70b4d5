--[[
  Registers a generation before its first member, so that garbage collection finds interrupted loads
  (the start time is kept on a retry).

  KEYS[1]  gens ({p}list:NAME:gens)
  ARGV[1]  generation
  Returns  the registration time (ms, Redis clock), as ZSCORE's string
]]
--- @include lib/now.lua
redis.call('ZADD', KEYS[1], 'NX', now_ms(), ARGV[1])
return redis.call('ZSCORE', KEYS[1], ARGV[1])
