--[[
  Claims a generation for deletion: never the current one; score 0 marks it 'being deleted' (an interrupted
  deletion is collected again) and the marker goes first.

  KEYS[1]  pointer ({p}list:NAME:current)
  KEYS[2]  gens ({p}list:NAME:gens)
  KEYS[3]  marker
  ARGV[1]  generation
  ARGV[2]  cutoff: a generation registered at or after it is skipped
  ARGV[3]  registered: '1' = it must be registered (before the cutoff)
  Returns  {-1, 0} current, {0, 0} skipped, {1, markers deleted}
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return {-1, 0} end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if score then
  if tonumber(score) >= tonumber(ARGV[2]) then return {0, 0} end
  redis.call('ZADD', KEYS[2], 'XX', 0, ARGV[1])
elseif ARGV[3] == '1' then
  return {0, 0}
end
return {1, redis.call('DEL', KEYS[3])}
