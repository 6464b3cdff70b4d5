--[[
  Points a list at a complete generation and publishes a switch notice, atomically; optionally drops older
  intraday additions in the same script. Refuses a generation without a marker (incomplete or deleted).

  KEYS[1]  pointer ({p}list:NAME:current)
  KEYS[2]  lists ({p}lists)
  KEYS[3]  marker of the generation
  KEYS[4]  gens ({p}list:NAME:gens)
  KEYS[5]  added ({p}list:NAME:added)
  ARGV[1]  list
  ARGV[2]  generation
  ARGV[3]  clearBefore: drop intraday additions scored before it ('' = keep)
  ARGV[4]  events channel
  ARGV[5]  notice (JSON switch event)
  ARGV[6]  check: '1' = switch only when the pointer is ARGV[7]
  ARGV[7]  expected pointer ('' meaning none)
  Returns  {1, previous} switched, {0} no marker, {2, previous} the pointer moved
]]
--- @include lib/now.lua
if redis.call('EXISTS', KEYS[3]) == 0 then return {0, false} end
local previous = redis.call('GET', KEYS[1])
if ARGV[6] == '1' and (previous or '') ~= ARGV[7] then return {2, previous} end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[4], 'NX', now_ms(), ARGV[2])
if ARGV[3] ~= '' then redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. ARGV[3]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, previous}
