--[[
  The calling-rules check of one consumer (redis/confirm.ts decide()), in ONE atomic script so that racing
  dialers are serialised here: confirms the Bloom hits as confirm.lua does, reads the consumer's refusal and
  attempts within the window, and counts a dial attempt (ZADD) only when nothing blocks, in rules/policy.ts's
  order: deny, JS rules, refusal, consent, cap. Allow-list answers follow rules/consent-terms.ts
  judgeAllowEntry's rule, mirrored here (the differential test holds them equal).

  KEYS[1]            refused ({p}refused:KEY)
  KEYS[2]            attempts ({p}attempts:KEY)
  KEYS[5i-2..5i+2]   item i = 1..n: marker, bucket (the marker again for mode 'n'), added, revoked, terms
  KEYS[#KEYS]        the fleet epoch ({p}epoch); n = (#KEYS - 3) / 5
  ARGV[1]  dial ('1' = count this check when everything allows it)
  ARGV[2]  requireConsent ('1')
  ARGV[3]  jsBlocked ('1')
  ARGV[4]  cap ('' = none)
  ARGV[5]  windowMs
  ARGV[6]  refusals ('1' = a running refusal blocks)
  ARGV[7]  unique suffix of the attempt's member
  ARGV[4i+4..4i+7]   item i: member, digits, role (d deny, l deny lifted by a contract, c consent, k contract,
                     a allow), mode (confirm.lua's)
  ARGV[#ARGV]        the epoch this sidecar expects ('' = none)
  A refusal key without expiry (written by hand) ends {{REFUSAL_FALLBACK_MS}} ms after the refusal it holds.
  Returns  {now, refusedAt, refusedUntil, attempts, oldest, counted, answer_1..answer_n, terms_1..terms_n};
           -1 stands for none; answers are 1 member, 0 absent, -1 unconfirmed, and for allow-lists 2 revoked,
           3 expired; terms_i is a consent item's stored terms or ''. {} when the epoch differs (no answer).
]]
--- @include lib/now.lua
--- @include lib/marker-present.lua
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

local refused = false
local at = redis.call('GET', KEYS[1])
if at then
  local started = tonumber(at) or 0
  local ttl = redis.call('PTTL', KEYS[1])
  -- A key without expiry (written by hand) ends a default period after the refusal it holds.
  local till = ttl > 0 and t + ttl or started + {{REFUSAL_FALLBACK_MS}}
  out[2] = started
  out[3] = till
  refused = ARGV[6] == '1' and till > t
end

local ATTEMPT_PEEK = 16
local window = tonumber(ARGV[5])
local floor = t - window
-- One read for the consumer's attempts (issue 17: each redis.call costs ~1-2 µs inside Redis): the oldest
-- ATTEMPT_PEEK entries by score. The set holds at most the cap within the window plus the stale ones that
-- the last counted dial did not drop, so this is the whole set; when it is not (no cap, or written by hand),
-- the exact ZCOUNT / ZRANGEBYSCORE reads follow. Read-only unless this check counts.
local peek = redis.call('ZRANGE', KEYS[2], 0, ATTEMPT_PEEK - 1, 'WITHSCORES')
local count, stale = 0, 0
if #peek < 2 * ATTEMPT_PEEK then
  for j = 2, #peek, 2 do
    local score = tonumber(peek[j])
    if score > floor then
      if count == 0 then out[5] = score end
      count = count + 1
    else
      stale = stale + 1
    end
  end
else
  local from = '(' .. string.format('%d', floor)
  count = redis.call('ZCOUNT', KEYS[2], from, '+inf')
  stale = 1
  if count > 0 then out[5] = tonumber(redis.call('ZRANGEBYSCORE', KEYS[2], from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)[2]) end
end
out[4] = count

if ARGV[1] == '1' and not denied and ARGV[3] ~= '1' and not refused
  and not (ARGV[2] == '1' and not consent and not contract)
  and (ARGV[4] == '' or count < tonumber(ARGV[4])) then
  if stale > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', floor)) end
  local at = string.format('%d', t)
  redis.call('ZADD', KEYS[2], t, at .. '-' .. ARGV[7])
  redis.call('PEXPIRE', KEYS[2], window)
  out[6] = 1
end
return out
