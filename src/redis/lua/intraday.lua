--[[
  Records intraday additions or removals of a list and the change on the stream, in one script: a follower
  never sees one without the other. Each entry carries this build's format (decodeChange refuses a newer one):
  {{CHANGE_FORMAT_FIELD}} and {{FORMAT_VERSION}} are filled in by the loader (redis/scripts.ts) from
  redis/codecs.ts.

  KEYS[1]  added ({p}list:NAME:added)
  KEYS[2]  changes ({p}changes)
  KEYS[3]  revoked ({p}list:NAME:revoked)
  ARGV[1]  op: 'add' or 'remove'
  ARGV[2]  list
  ARGV[3]  who
  ARGV[4]  stream MAXLEN (~)
  ARGV[5]  the keys joined by ','
  ARGV[6]  revocable: '1' = an allow-list (a removal revokes, an addition lifts a revocation)
  ARGV[7..] the keys, as decimal digits
  Returns  the stream id of the entry
]]
--- @include lib/now.lua
local function iso(ms)
  local s = math.floor(ms / 1000)
  local z = math.floor(s / 86400)
  local secs = s - z * 86400
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
    math.floor(secs / 3600), math.floor((secs % 3600) / 60), secs % 60, ms % 1000)
end
local t = now_ms()
local revocable = ARGV[6] == '1'
for i = 7, #ARGV do
  if ARGV[1] == 'add' then
    redis.call('ZADD', KEYS[1], t, ARGV[i])
    if revocable then redis.call('ZREM', KEYS[3], ARGV[i]) end
  else
    redis.call('ZREM', KEYS[1], ARGV[i])
    if revocable then redis.call('ZADD', KEYS[3], t, ARGV[i]) end
  end
end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',
  'list', ARGV[2], 'op', ARGV[1], 'keys', ARGV[5], 'who', ARGV[3], 'at', iso(t), '{{CHANGE_FORMAT_FIELD}}', '{{FORMAT_VERSION}}')
