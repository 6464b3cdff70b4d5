--[[
  COST SKELETON, not a rules script callgate runs (bench/script-cost.ts variant): today's decide.lua with the
  consumer's refusal and attempts in ONE string key ('startedAt:till;t1,t2,...': one GET, one SET PX) instead of
  GET + PTTL on the refusal and ZRANGE + ZADD + PEXPIRE on the attempts. It measures what that stored-format change
  (issue 17 item 2) would buy; it does not keep a refusal's own expiry and is not mixed-version safe.
]]
--[[
  now_ms(): Redis's clock in ms (TIME), so that sidecars, loaders and the opt-out API never compare clocks of
  different hosts. Scripts that read TIME and then write need effect replication: the default from Redis 5,
  switched on explicitly for older servers (a no-op on 7).
]]
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

--[[
  marker_present(marker): whether a generation's marker exists (1 or 0), read once per script per marker
  (several items share a generation).
]]
local seen = {}
local function marker_present(marker)
  local present = seen[marker]
  if present == nil then
    present = redis.call('EXISTS', marker)
    seen[marker] = present
  end
  return present
end

-- Last KEYS / ARGV: the fleet epoch key and the epoch this sidecar expects ('' = none). A wiped Redis lost
-- refusals and attempts: no answer (the caller blocks) until this sidecar has re-published its copy.
-- Not one MGET with the refusal below (a call fewer, ~2-3 µs): MGET reads a key of another type as missing, which
-- would read as no refusal; GET fails the script, and the caller blocks.
if ARGV[#ARGV] ~= '' and redis.call('GET', KEYS[#KEYS]) ~= ARGV[#ARGV] then return {} end
local t = now_ms()
local n = (#KEYS - 3) / 5
local out = {t, -1, -1, 0, -1, 0}
local denied, liftable, consent, contract = false, false, false, false
for i = 1, n do
  local present = marker_present(KEYS[5 * i - 2])
  local digits = ARGV[4 * i + 5]
  local role = ARGV[4 * i + 6]
  local mode = ARGV[4 * i + 7]
  local allow = role == 'c' or role == 'k' or role == 'a'
  local a
  local terms = ''
  if present == 0 then
    a = -1
  elseif allow and redis.call('ZSCORE', KEYS[5 * i], digits) then
    -- Granted during the day (list add): no terms, and any earlier revocation was lifted by the grant. Read
    -- first: the grant may follow a revocation of the generation's consent, whose terms are then no proof.
    a = 1
  elseif mode ~= 'n' and redis.call('SISMEMBER', KEYS[5 * i - 1], ARGV[4 * i + 4]) == 1 then
    a = 1
    if allow then
      local consented, expires, bad = nil, nil, false
      if role == 'c' then
        local tv = redis.call('HGET', KEYS[5 * i + 2], digits)
        if tv then
          terms = tv
          local e, c = string.match(tv, '^(%-?%d*)\t(%-?%d*)\t')
          if e == nil then
            bad = true
          else
            if e ~= '' then expires = tonumber(e) end
            if c ~= '' then consented = tonumber(c) end
          end
        end
      end
      local rv = redis.call('ZSCORE', KEYS[5 * i + 1], digits)
      if rv and (consented == nil or consented <= tonumber(rv)) then
        a = 2
      elseif bad or (expires ~= nil and expires <= t) then
        a = 3
      end
    end
  elseif not allow and redis.call('ZSCORE', KEYS[5 * i], digits) then
    a = 1
  elseif mode == 'e' and redis.call('EXISTS', KEYS[5 * i - 1]) == 0 then
    a = -1
  else
    a = 0
  end
  out[6 + i] = a
  out[6 + n + i] = terms
  if role == 'd' then
    if a ~= 0 then denied = true end
  elseif role == 'l' then
    if a == -1 then denied = true elseif a == 1 then liftable = true end
  elseif role == 'c' then
    if a == 1 then consent = true end
  elseif role == 'k' then
    if a == 1 then contract = true end
  elseif role ~= 'a' then
    denied = true
  end
end
if liftable and not contract then denied = true end


-- Consumer state in ONE string key (KEYS[1]): 'startedAt:till;t1,t2,...' (an experiment, not a stored format).
local refused = false
local ATTEMPT_PEEK = 16
local window = tonumber(ARGV[5])
local floor = t - window
local kept = {}
local count = 0
local state = redis.call('GET', KEYS[1])
local head = ''
if state then
  local s, u, rest = string.match(state, '^(%-?%d*):(%-?%d*);(.*)$')
  if s and s ~= '' then
    out[2] = tonumber(s)
    out[3] = tonumber(u)
    refused = ARGV[6] == '1' and out[3] > t
    head = s .. ':' .. u
  end
  if rest then
    for a in string.gmatch(rest, '%d+') do
      local v = tonumber(a)
      if v > floor then
        if count == 0 then out[5] = v end
        count = count + 1
        kept[count] = a
      end
    end
  end
end
out[4] = count
if ARGV[1] == '1' and not denied and ARGV[3] ~= '1' and not refused
  and not (ARGV[2] == '1' and not consent and not contract)
  and (ARGV[4] == '' or count < tonumber(ARGV[4])) then
  kept[count + 1] = string.format('%d', t)
  redis.call('SET', KEYS[1], head .. ';' .. table.concat(kept, ','), 'PX', window)
  out[6] = 1
end
return out
