--[[
  Extends a fleet lock if this token still holds it.

  KEYS[1]  lock ({p}lock:NAME)
  ARGV[1]  token
  ARGV[2]  ttl (ms)
  Returns  1 renewed, 0 lost
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
