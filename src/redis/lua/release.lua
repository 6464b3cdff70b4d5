--[[
  Deletes a fleet lock if this token still holds it (never another holder's).

  KEYS[1]  lock ({p}lock:NAME)
  ARGV[1]  token
  Returns  1 deleted, 0 not held
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
