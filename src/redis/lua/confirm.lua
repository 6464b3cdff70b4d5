--[[
  Confirms Bloom hits: is each key a member of its list's generation (or of the list's intraday additions)?
  The hot path (redis/confirm.ts confirm()). Marker check and membership run in one script, so a generation
  deleted marker-first can never read 'absent'.

  KEYS[3i-2]  marker of item i's generation
  KEYS[3i-1]  item i's bucket (the marker again when mode is 'n': never read as a bucket)
  KEYS[3i]    the list's intraday additions (ZSET)
  ARGV[3i-2]  member_i (key % 1e9)
  ARGV[3i-1]  digits_i (the key as plain decimal digits, the ZSET member)
  ARGV[3i]    mode_i: 'e' the bucket must exist (layout 2: every bucket of a present part is written),
              'o' it may be missing (layout 1), 'n' the part has no bucket
  Returns     {answer_1, ..., answer_n}: 1 member, 0 absent, -1 unconfirmed (marker gone, or a bucket that must
              exist is gone: evicted, deleted by hand; EXISTS runs only on that path)
]]
--- @include lib/marker-present.lua
local out = {}
for i = 1, #ARGV / 3 do
  local mode = ARGV[3 * i]
  if marker_present(KEYS[3 * i - 2]) == 0 then
    out[i] = -1
  elseif mode ~= 'n' and redis.call('SISMEMBER', KEYS[3 * i - 1], ARGV[3 * i - 2]) == 1 then
    out[i] = 1
  elseif redis.call('ZSCORE', KEYS[3 * i], ARGV[3 * i - 1]) then
    out[i] = 1
  elseif mode == 'e' and redis.call('EXISTS', KEYS[3 * i - 1]) == 0 then
    out[i] = -1
  else
    out[i] = 0
  end
end
return out
