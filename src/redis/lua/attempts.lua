--[[
  Reads a consumer's attempts within the window. Read-only.

  KEYS[1]  attempts ({p}attempts:KEY)
  ARGV[1]  windowMs
  Returns  {now, score_1, score_2, ...} within the window, oldest first (ms, Redis clock)
]]
--- @include lib/now.lua
local t = now_ms()
local held = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%d', t - tonumber(ARGV[1])), '+inf', 'WITHSCORES')
local out = {t}
for i = 2, #held, 2 do out[#out + 1] = tonumber(held[i]) end
return out
