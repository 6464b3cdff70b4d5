--[[
  Writes a generation's marker (last of its keys) only while the generation is still registered and not
  claimed by garbage collection (score 0), so a collected half-load never gets a marker.

  KEYS[1]  gens ({p}list:NAME:gens)
  KEYS[2]  marker
  ARGV[1]  generation
  ARGV[2..] field, value, ... of the marker hash
  Returns  1 written, 0 refused
]]
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= 0 then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
return 1
