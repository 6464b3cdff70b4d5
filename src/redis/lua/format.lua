--[[
  Raises the fleet's format key to this build's (never lowers it; a value that is not a number is left for the
  reader to refuse) and reads the evictions an operator accepted.

  KEYS[1]  format ({p}format)
  KEYS[2]  evictions ack ({p}evictions:ack)
  ARGV[1]  this build's FORMAT_VERSION
  Returns  {format, ack or ''}
]]
local v = redis.call('GET', KEYS[1])
local n = v and tonumber(v)
if not v or (n and n < tonumber(ARGV[1])) then
  redis.call('SET', KEYS[1], ARGV[1])
  v = ARGV[1]
end
return {v, redis.call('GET', KEYS[2]) or ''}
