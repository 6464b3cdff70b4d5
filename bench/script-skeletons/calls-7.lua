--[[
  COST SKELETON, not a rules script (bench/script-cost.ts variant): the Redis calls of a counted consent dial with
  the consumer's state in one string key and a consent's proof in one read, no intraday grant (7 calls), and none
  of the script's logic: the floor of the call count alone. Its answers mean nothing.
]]
if ARGV[#ARGV] ~= '' and redis.call('GET', KEYS[#KEYS]) ~= ARGV[#ARGV] then return {} end
local t = redis.call('TIME')
local present = redis.call('EXISTS', KEYS[3])
local tv = redis.call('HGET', KEYS[7], ARGV[9])
local rv = redis.call('ZSCORE', KEYS[6], ARGV[9])
local st = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], 'x' .. t[1], 'PX', ARGV[5])
return {1, -1, -1, 0, -1, 1, present, tv or ''}
