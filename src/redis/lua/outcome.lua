--[[
  Records how a call ended. Only a refusal writes (attempts are counted by decide.lua at dial time); a refusal
  never shortens a longer period already running.

  KEYS[1]  refused ({p}refused:KEY)
  ARGV[1]  outcome: 'refused', 'answered' or 'no_answer'
  ARGV[2]  refusal ttl (ms)
  Returns  the time (ms, Redis clock)
]]
--- @include lib/now.lua
local t = now_ms()
if ARGV[1] == 'refused' then
  local ttl = math.max(tonumber(ARGV[2]), redis.call('PTTL', KEYS[1]))
  redis.call('SET', KEYS[1], string.format('%d', t), 'PX', ttl)
end
return t
