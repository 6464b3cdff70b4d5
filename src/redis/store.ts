/**
 * The Redis store (Redis mode): exact list members shared by a fleet of sidecars, versioned by generation.
 * The only file that imports ioredis. Key layout and bucketing: redis/keys.ts.
 *
 * Fail-closed: confirm() never throws and answers 'absent' only when Redis said so with the generation's
 * marker present. Vanished keys (restart without persistence, eviction, a deleted generation) read
 * 'unconfirmed', and the caller blocks.
 *
 * Two connections: confirms go on their own so that bulk traffic (a 25 MB filter, 60k SADDs) never queues
 * in front of a check waiting on a 50 ms budget. Small fleet commands (lock renewals, heartbeats) share the
 * confirm connection for the same reason. Pub/sub and each followChanges() loop get dedicated connections,
 * opened on first use: SUBSCRIBE and XREAD BLOCK hold a connection.
 *
 * Fleet primitives: a generation registry (garbage collection of old and interrupted loads), sidecar
 * heartbeats, a fleet lock, switch notices on pub/sub, and intraday changes (a ZSET per list, read by
 * confirm, plus one stream of every change that sidecars follow). Every fleet timestamp is Redis's clock
 * (TIME inside the scripts) so that sidecars, loaders and the opt-out API never compare clocks of different hosts.
 *
 * Calling rules (décret 2022-1313: at most 4 calls or attempts per consumer per 30 days, none for 60 days after a
 * refusal): decide() confirms the Bloom hits, reads the consumer's refusal and attempts, and counts a dial attempt
 * in ONE script, so racing dialers never exceed the cap.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { AllowAnswer } from '../rules/consent-terms.js';
import type { DecideFacts, DecideInput, DecideItem, DecideRole } from '../rules/facts.js';
import { CallgateError, ErrorCode, isCallgateError } from '../core/errors.js';
import type { NumberKey } from '../numbers/number-key.js';
import {
  BUCKET_LAYOUT,
  DEFAULT_PREFIX,
  EMPTY_FINGERPRINT,
  addedKey,
  assertGenerationId,
  assertInstanceId,
  assertIntradayKeys,
  assertListName,
  assertLockName,
  assertPrefix,
  assertWho,
  attemptsKey,
  CHANGE_FORMAT_FIELD,
  EMPTY_BUCKET_MEMBER,
  FORMAT_VERSION,
  bucketCount,
  bucketIndexOf,
  bucketsOfPart,
  bucketKey,
  bucketPattern,
  changesKey,
  compareStreamIds,
  decodeChange,
  decodeEvent,
  decodeInUse,
  decodeFormat,
  decodeMarker,
  encodeInUse,
  epochKey,
  encodeMarker,
  encodeSwitchEvent,
  eventsChannel,
  evictionsAckKey,
  filterKey,
  formatKey,
  gensKey,
  highOf,
  isStreamId,
  listsKey,
  lockKey,
  markerKey,
  memberOf,
  planBuckets,
  pointerKey,
  refusalTtlMs,
  refusedKey,
  revokedKey,
  sidecarKey,
  sidecarsKey,
  termsKey,
} from './keys.js';
import type { BucketPlan, Change, PartBuckets, ChangeOp, GenerationMarker, InUse, SwitchEvent } from './keys.js';
import type { AllowRole, ListKind } from '../config/list-spec.js';
import type { CallOutcome } from '../check/protocol.js';
import type { Membership } from '../check/verdict.js';
import { DAY_MS, yieldToEventLoop } from '../core/time.js';
import { newGenerationId } from '../lists/generation.js';

export interface ConfirmItem {
  readonly list: string;
  readonly generation: string;
  /** The generation marker's plan (GenerationMarker.buckets). */
  readonly buckets: BucketPlan;
  readonly key: NumberKey;
}

/** Told of every refusal and counted attempt this store records (the sidecar keeps a durable copy of them). */
export interface RuleWriteObserver {
  refusal(key: NumberKey, at: number, until: number): void;
  /** member: the attempt's member in the attempts set, re-published as is after a wipe. */
  attempt(key: NumberKey, at: number, member: string): void;
}

interface DecideKeys {
  readonly marker: string;
  /** bucketKey(…, '') : the bucket id is appended. */
  readonly bucketBase: string;
  readonly added: string;
  readonly revoked: string;
  readonly terms: string;
}

export interface IntradayMeta {
  /** Who made the change (an operator, a CRM), recorded on the stream. */
  readonly who: string;
  /** An allow-list: a removal is a revocation that overrides the file, an addition lifts one. @default false */
  readonly revocable?: boolean | undefined;
}

export interface OutcomeOptions {
  /** No call for this many days after a refusal; the key lives refusalTtlMs(refusalDays). @default 60 */
  readonly refusalDays?: number | undefined;
}

export interface AttemptsRecord {
  /** Attempts within the window. */
  readonly count: number;
  /** Their times (ms, Redis clock), oldest first. */
  readonly times: number[];
  /** Redis's clock (ms). */
  readonly now: number;
}

export interface WriteGenerationInput {
  readonly list: string;
  readonly kind: ListKind;
  /** Allow-lists: consent or contract, recorded so a sidecar never takes over a list of another role. */
  readonly role?: AllowRole | null | undefined;
  /** Sorted, unique keys. */
  readonly keys: Float64Array;
  /** The Bloom filter's binary form, stored opaque. */
  readonly filter: Buffer;
  readonly normaliserVersion: string;
  readonly hashId: string;
  /** sha256 of the source list, lowercase hex. */
  readonly fingerprint: string;
  readonly sourceDate?: string | undefined;
  /** @default a new time-sortable id */
  readonly generation?: string | undefined;
  /** Consent lists: number key → stored consent terms (rules/consent-terms.ts), written beside the members. */
  readonly terms?: ReadonlyMap<NumberKey, string> | null | undefined;
}

export interface SwitchOptions {
  /**
   * Also drop the list's intraday additions made before this time (ms, Redis clock), in the same script as
   * the switch: a new file generation replaces them, additions made after it (during the load) stay.
   * @default undefined (keep every intraday addition)
   */
  readonly clearIntradayBefore?: number | undefined;
}

export interface GarbageOptions {
  /** Generations registered less than this long ago are kept: loads in progress and fresh ones. */
  readonly graceMs: number;
  /** Current time in ms on Redis's clock. @default Redis TIME */
  readonly now?: number | undefined;
}

export interface EmptyGenerationInput {
  readonly normaliserVersion: string;
  readonly hashId: string;
  /** The binary form of an empty Bloom filter built with the fleet's hashing. */
  readonly filter: Buffer;
}

export interface SidecarRecord {
  readonly id: string;
  /** Last heartbeat, ms, Redis clock. */
  readonly lastSeen: number;
  readonly inUse: InUse[];
}

export interface IntradayEntry {
  readonly key: NumberKey;
  /** When it was added, ms, Redis clock. */
  readonly at: number;
}

export interface FollowOptions {
  /** XREAD BLOCK timeout; the loop re-issues the read after it. @default 5000 */
  readonly blockMs?: number | undefined;
  /** Cap of the retry backoff after an error. @default the store's reconnectMaxDelayMs (2000) */
  readonly maxBackoffMs?: number | undefined;
  /** Errors (connection, malformed entries, a throwing onChange), for logs; the loop goes on. @default undefined */
  readonly onError?: ((err: Error) => void) | undefined;
  /**
   * Changes after lastId may have been trimmed from the stream before they were read (a follower away for a
   * million changes): the overlay must be seeded again (lastChangeId, readIntraday). Checked at start and
   * after every error; following goes on from the first entry still held.
   * @default reports a CallgateError CALLGATE_ERR_REDIS through onError
   */
  readonly onGap?: ((lastId: string, firstHeldId: string) => void) | undefined;
  /**
   * An entry that cannot be decoded (written by a newer build, or damaged): its change is unknown, so the
   * overlay must be seeded again; following goes on after it. @default reported through onError
   */
  readonly onMalformed?: ((id: string, err: Error) => void) | undefined;
}

/** A held fleet lock. Only the holder's random token can renew or release it. */
export interface Lock {
  readonly name: string;
  readonly token: string;
  readonly ttlMs: number;
  /** Extends the lock to ttlMs from now if this token still holds it; false when it was lost. Throws on Redis errors. */
  renew(): Promise<boolean>;
  /** Deletes the lock if this token still holds it (never another holder's), and stops keepAlive. */
  release(): Promise<void>;
  /**
   * Renews every ttlMs/3 until release(). The returned signal aborts, with a CallgateError CALLGATE_ERR_LOCK_LOST
   * as reason, when a renewal finds the lock gone or when no renewal succeeded before the lock may have
   * expired; onLost is then called once. Calling it again returns the same signal.
   */
  keepAlive(onLost?: (err: CallgateError) => void): AbortSignal;
}

export interface RedisStoreOptions {
  /** redis:// or rediss:// (TLS). With sentinels, only credentials and db are taken from it. @default 'redis://127.0.0.1:6379' */
  readonly url?: string | undefined;
  /** Prefix of every key. @default 'callgate:' */
  readonly prefix?: string | undefined;
  /** A confirm not answered within this reads 'unconfirmed' for all its items. @default 50 */
  readonly confirmTimeoutMs?: number | undefined;
  /** Sentinel addresses; when set, the master is found through them. @default undefined */
  readonly sentinels?: ReadonlyArray<{ readonly host: string; readonly port: number }> | undefined;
  /** Master group name, required with sentinels. @default undefined */
  readonly sentinelName?: string | undefined;
  /**
   * Accept an allkeys-* maxmemory-policy. Redis may then evict members, which confirm() reads as
   * 'unconfirmed' only if the marker went too; an evicted bucket with its marker kept reads 'absent'.
   * @default false
   */
  readonly allowEviction?: boolean | undefined;
  /** connect() rejects when Redis is not ready within this. @default 10000 */
  readonly connectTimeoutMs?: number | undefined;
  /** Reconnection backoff cap; reconnection never stops. @default 2000 */
  readonly reconnectMaxDelayMs?: number | undefined;
  /** Confirms sent but not answered (even past their timeout) above which new ones read 'unconfirmed' unsent. @default 1000 */
  readonly maxConfirmsInFlight?: number | undefined;
  /** A connection with a command outstanding and no byte received for this long is dropped and redialled (a hung server). @default 5000 */
  readonly hungSocketMs?: number | undefined;
  /** Connection state changes of the confirm connection, for logs. @default undefined */
  readonly onStateChange?: ((state: 'up' | 'down') => void) | undefined;
  /** Connection errors (ioredis 'error' events) and malformed pub/sub notices, for logs. @default undefined */
  readonly onError?: ((err: Error) => void) | undefined;
  /** Approximate length (MAXLEN ~) the changes stream is trimmed to. @default 1000000 */
  readonly changesMaxLen?: number | undefined;
  /**
   * How often maxmemory-policy, INFO evicted_keys and the fleet's format key are re-read (also at every
   * reconnection). @default 1000
   */
  readonly watchMs?: number | undefined;
}

/**
 * Why Redis's answers cannot be trusted right now; while either is set, confirm() answers 'unconfirmed' and
 * decide() answered false, whatever Redis says.
 */
export interface RedisRisk {
  /**
   * Keys may be missing: evicted_keys above the count an operator accepted (acceptEvictions()), until accepted;
   * or a maxmemory-policy that can evict (unless allowEviction), until it is noeviction again.
   */
  readonly eviction: string | null;
  /** A newer format than this build reads: the fleet's format key (until lowered), a marker or a stream entry (until restart). */
  readonly format: string | null;
}

type Args = Array<string | number | Buffer>;
interface Scripts {
  cgConfirm(numKeys: number, ...args: Args): Promise<unknown>;
  cgSwitch(...args: Args): Promise<unknown>;
  cgRegister(...args: Args): Promise<unknown>;
  cgMarker(...args: Args): Promise<unknown>;
  cgClaim(...args: Args): Promise<unknown>;
  cgIntraday(...args: Args): Promise<unknown>;
  cgHeartbeat(...args: Args): Promise<unknown>;
  cgPrune(numKeys: number, ...args: Args): Promise<unknown>;
  cgRenew(...args: Args): Promise<unknown>;
  cgRelease(...args: Args): Promise<unknown>;
  cgDecide(numKeys: number, ...args: Args): Promise<unknown>;
  cgOutcome(...args: Args): Promise<unknown>;
  cgAttempts(...args: Args): Promise<unknown>;
  cgFormat(...args: Args): Promise<unknown>;
  cgRestoreRefusal(...args: Args): Promise<unknown>;
}
type Client = Redis & Scripts;

// Redis's clock in ms. Scripts that read TIME and then write need effect replication: the default from
// Redis 5, switched on explicitly for older servers (a no-op on 7).
const ATTEMPT_ID_PREFIX = `${randomBytes(6).toString('hex')}.`;
let attemptSeq = 0;

const NOW_LUA = `
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

// Whether a generation's marker exists, read once per script per marker (several items share a generation).
const MARKER_PRESENT_LUA = `
local seen = {}
local function marker_present(marker)
  local present = seen[marker]
  if present == nil then
    present = redis.call('EXISTS', marker)
    seen[marker] = present
  end
  return present
end
`;

// KEYS: marker1, bucket1, added1, marker2, ...; ARGV: member1, digits1, mode1, member2, ...
// mode: 'e' the bucket must exist (layout 2: every bucket of a present part is written), 'o' it may be missing
// (layout 1), 'n' the part has no bucket (KEYS holds the marker again, never read as a bucket).
// Marker check and membership run in one script, so a generation deleted marker-first can never read 'absent'.
// A key is a member when it is in the generation's bucket or in the list's intraday additions. A bucket that
// must exist and is gone (evicted, deleted by hand) reads -1, never 'absent'; EXISTS runs only on that path.
const CONFIRM_LUA = `${MARKER_PRESENT_LUA}
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
`;

// KEYS: pointer, lists, marker, gens, added. ARGV: list, generation, clearBefore ('' = keep), channel, notice,
// check ('1' = only when the pointer is ARGV[7], '' meaning none).
// Refuses a generation without a marker (incomplete or deleted); returns {1, previous}, {0} or {2, previous}.
const SWITCH_LUA = `${NOW_LUA}
if redis.call('EXISTS', KEYS[3]) == 0 then return {0, false} end
local previous = redis.call('GET', KEYS[1])
if ARGV[6] == '1' and (previous or '') ~= ARGV[7] then return {2, previous} end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[4], 'NX', now_ms(), ARGV[2])
if ARGV[3] ~= '' then redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. ARGV[3]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, previous}
`;

// KEYS: gens. ARGV: generation. Registers it (start time kept on a retry) and returns the start time.
const REGISTER_LUA = `${NOW_LUA}
redis.call('ZADD', KEYS[1], 'NX', now_ms(), ARGV[1])
return redis.call('ZSCORE', KEYS[1], ARGV[1])
`;

// KEYS: gens, marker. ARGV: generation, field, value, ... Writes the marker only while the generation is still
// registered and not claimed by garbage collection (score 0), so a collected half-load never gets a marker.
const MARKER_LUA = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= 0 then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
return 1
`;

// KEYS: pointer, gens, marker. ARGV: generation, cutoff, registered ('1' = must be registered before cutoff).
// Claims a generation for deletion: never the current one; score 0 marks it 'being deleted' (an interrupted
// deletion is collected again) and the marker goes first. Returns {-1} current, {0} skipped, {1, markers deleted}.
const CLAIM_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return {-1, 0} end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if score then
  if tonumber(score) >= tonumber(ARGV[2]) then return {0, 0} end
  redis.call('ZADD', KEYS[2], 'XX', 0, ARGV[1])
elseif ARGV[3] == '1' then
  return {0, 0}
end
return {1, redis.call('DEL', KEYS[3])}
`;

// KEYS: added, changes, revoked. ARGV: op, list, who, maxlen, joined keys, revocable, key1, key2, ...
// The ZSET and the stream change in one script: a follower never sees one without the other. Each entry carries
// this build's format (decodeChange refuses a newer one).
const INTRADAY_LUA = `${NOW_LUA}
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
  'list', ARGV[2], 'op', ARGV[1], 'keys', ARGV[5], 'who', ARGV[3], 'at', iso(t), '${CHANGE_FORMAT_FIELD}', '${FORMAT_VERSION}')
`;

// KEYS: sidecar, sidecars. ARGV: id, record, ttl. Returns the heartbeat time.
const HEARTBEAT_LUA = `${NOW_LUA}
local t = now_ms()
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], t, ARGV[1])
return t
`;

// KEYS: sidecars, sidecar1, sidecar2, ...; ARGV: id1, id2, ... Forgets sidecars whose record expired,
// re-checked here so that one heartbeating right now is kept.
const PRUNE_LUA = `
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return 0
`;

// KEYS: lock. ARGV: token, ttl.
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

// KEYS: lock. ARGV: token.
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// KEYS: refused, attempts, then marker_i, bucket_i, added_i, revoked_i, terms_i for item i = 1..n.
// ARGV: dial, requireConsent, jsBlocked, cap ('' = none), windowMs, refusals, unique suffix, n, fallbackMs,
//       then member_i, digits_i, role_i (d deny, l deny lifted by a contract, c consent, k contract, a allow),
//       mode_i (CONFIRM_LUA's: a bucket that must exist and is gone reads -1).
// Returns {now, refusedAt, refusedUntil, attempts, oldest, counted, answer_1, ..., answer_n, terms_1, ..., terms_n};
// -1 stands for none, answers are 1 member, 0 absent, -1 unconfirmed (CONFIRM_LUA's rule), and for allow-lists
// 2 revoked, 3 expired (rules/consent-terms.ts judgeAllowEntry's rule, mirrored here); terms_i is a consent item's stored
// terms or ''. Counts (ZADD) only when nothing blocks, in rules/policy.ts's order: deny, JS rules, refusal, consent, cap.
// One script: racing dialers are serialised here.
const DECIDE_LUA = `${NOW_LUA}${MARKER_PRESENT_LUA}
-- Last KEYS / ARGV: the fleet epoch key and the epoch this sidecar expects ('' = none). A wiped Redis lost
-- refusals and attempts: no answer (the caller blocks) until this sidecar has re-published its copy.
if ARGV[#ARGV] ~= '' and redis.call('GET', KEYS[#KEYS]) ~= ARGV[#ARGV] then return {} end
local t = now_ms()
local n = tonumber(ARGV[8])
local out = {t, -1, -1, 0, -1, 0}
local denied, liftable, consent, contract = false, false, false, false
for i = 1, n do
  local present = marker_present(KEYS[5 * i - 2])
  local role = ARGV[4 * i + 8]
  local digits = ARGV[4 * i + 7]
  local mode = ARGV[4 * i + 9]
  local allow = role == 'c' or role == 'k' or role == 'a'
  local a
  local terms = ''
  if present == 0 then
    a = -1
  elseif allow and redis.call('ZSCORE', KEYS[5 * i], digits) then
    -- Granted during the day (list add): no terms, and any earlier revocation was lifted by the grant.
    a = 1
  elseif mode ~= 'n' and redis.call('SISMEMBER', KEYS[5 * i - 1], ARGV[4 * i + 6]) == 1 then
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
  local till = ttl > 0 and t + ttl or started + tonumber(ARGV[9])
  out[2] = started
  out[3] = till
  refused = ARGV[6] == '1' and till > t
end

local window = tonumber(ARGV[5])
-- Read-only unless this check counts: most checks are questions or blocks, and a write costs more.
local from = '(' .. string.format('%d', t - window)
local count = redis.call('ZCOUNT', KEYS[2], from, '+inf')
out[4] = count
if count > 0 then out[5] = tonumber(redis.call('ZRANGEBYSCORE', KEYS[2], from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)[2]) end

if ARGV[1] == '1' and not denied and ARGV[3] ~= '1' and not refused
  and not (ARGV[2] == '1' and not consent and not contract)
  and (ARGV[4] == '' or count < tonumber(ARGV[4])) then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', t - window))
  redis.call('ZADD', KEYS[2], t, string.format('%d', t) .. '-' .. ARGV[7])
  redis.call('PEXPIRE', KEYS[2], window)
  out[6] = 1
end
return out
`;

// KEYS: refused. ARGV: outcome, refusal ttl. Only a refusal writes (attempts are counted by decide at dial time);
// a refusal never shortens a longer period already running. Returns the time.
const OUTCOME_LUA = `${NOW_LUA}
local t = now_ms()
if ARGV[1] == 'refused' then
  local ttl = math.max(tonumber(ARGV[2]), redis.call('PTTL', KEYS[1]))
  redis.call('SET', KEYS[1], string.format('%d', t), 'PX', ttl)
end
return t
`;

// KEYS: attempts. ARGV: windowMs. Read-only: {now, score1, score2, ...} within the window, oldest first.
const ATTEMPTS_LUA = `${NOW_LUA}
local t = now_ms()
local held = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%d', t - tonumber(ARGV[1])), '+inf', 'WITHSCORES')
local out = {t}
for i = 2, #held, 2 do out[#out + 1] = tonumber(held[i]) end
return out
`;

// KEYS: format, evictions ack. ARGV: this build's FORMAT_VERSION. Raises the fleet's format key to ours (never
// lowers it; a value that is not a number is left for the reader to refuse) and returns {format, ack or ''}.
const FORMAT_LUA = `
local v = redis.call('GET', KEYS[1])
local n = v and tonumber(v)
if not v or (n and n < tonumber(ARGV[1])) then
  redis.call('SET', KEYS[1], ARGV[1])
  v = ARGV[1]
end
return {v, redis.call('GET', KEYS[2]) or ''}
`;
/** sha1 of each script, as Redis's script cache names it (for tests that look at the cache). */
export function scriptDigests(): Record<string, string> {
  return Object.fromEntries(SCRIPTS.map(([name, lua]) => [name, createHash('sha1').update(lua).digest('hex')]));
}
// KEYS: refused. ARGV: refusedAt, until (ms). Re-publishes a refusal kept by a sidecar (after a wipe): only while it
// runs, never shortening a longer period already recorded. Returns 1 when written.
const RESTORE_REFUSAL_LUA = `${NOW_LUA}
local t = now_ms()
local ttl = tonumber(ARGV[2]) - t
if ttl <= 0 or redis.call('PTTL', KEYS[1]) >= ttl then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 1
`;

const SCRIPTS: ReadonlyArray<readonly [keyof Scripts, string, number | undefined]> = [
  ['cgConfirm', CONFIRM_LUA, undefined],
  ['cgSwitch', SWITCH_LUA, 5],
  ['cgRegister', REGISTER_LUA, 1],
  ['cgMarker', MARKER_LUA, 2],
  ['cgClaim', CLAIM_LUA, 3],
  ['cgIntraday', INTRADAY_LUA, 3],
  ['cgHeartbeat', HEARTBEAT_LUA, 2],
  ['cgPrune', PRUNE_LUA, undefined],
  ['cgRenew', RENEW_LUA, 1],
  ['cgRelease', RELEASE_LUA, 1],
  ['cgDecide', DECIDE_LUA, undefined],
  ['cgOutcome', OUTCOME_LUA, 1],
  ['cgAttempts', ATTEMPTS_LUA, 1],
  ['cgFormat', FORMAT_LUA, 2],
  ['cgRestoreRefusal', RESTORE_REFUSAL_LUA, 1],
];

/** Décret 2022-1313: at most 4 calls or attempts per consumer per 30 days. */
export const DEFAULT_ATTEMPT_CAP = 4;
export const DEFAULT_ATTEMPT_WINDOW_MS = 30 * DAY_MS;
/** Décret 2022-1313: no call nor attempt for 60 days after a refusal. */
export const DEFAULT_REFUSAL_DAYS = 60;
const ROLE_CODES: Readonly<Record<DecideRole, string>> = { deny: 'd', 'deny-contract': 'l', consent: 'c', contract: 'k', allow: 'a' };

// Small pipelines: Redis runs one command at a time, and a confirmation queued behind a long
// pipeline of SADDs waits for all of it (measured: 256 per flush tripled the confirm p99 during a
// 12M load); 32 keeps each burst well under a millisecond of Redis time.
const COMMANDS_PER_FLUSH = 32;
/** Keys bucketed between two yields to the event loop during a load. */
const YIELD_EVERY = 65_536;

const FILTER_CHUNK_BYTES = 1 << 20;
const UNLINK_BATCH = 500;
/** Keys per intraday script call: one stream entry each, and Lua's argument limits stay far away. */
const INTRADAY_CHUNK = 1000;
/** Consent terms per HSET while writing a generation: bounded command size. */
const TERMS_PER_HSET = 1000;
const FOLLOW_COUNT = 1000;
// A score above any time: deleteGeneration deletes whatever the registration time.
const NO_CUTOFF = String(Number.MAX_VALUE);

/** Opens one more connection with the store's settings, ready or rejected. */
type Dial = (name: string, extra: RedisOptions) => Promise<Client>;

export class RedisStore {
  readonly prefix: string;
  readonly #fast: Client;
  readonly #bulk: Client;
  readonly #confirmTimeoutMs: number;
  readonly #maxInFlight: number;
  readonly #allowEviction: boolean;
  #inFlight = 0;
  #up = false;
  #closed = false;
  readonly #onStateChange: ((state: 'up' | 'down') => void) | undefined;
  readonly #onError: ((err: Error) => void) | undefined;
  readonly #dial: Dial;
  readonly #hungSocketMs: number;
  readonly #reconnectMaxDelayMs: number;
  readonly #changesMaxLen: number;
  readonly #generationKeyCache = new Map<string, DecideKeys>();
  /** The subscriber connection, opened by the first subscribe() and closed after the last unsubscribe. */
  #subscriber: Promise<Client> | null = null;
  readonly #handlers = new Set<{ readonly onEvent: (event: SwitchEvent) => void }>();
  /** Stop functions of running followChanges() loops. */
  readonly #followers = new Set<() => Promise<void>>();
  readonly #locks = new Set<FleetLock>();
  readonly #riskListeners = new Set<(risk: RedisRisk) => void>();
  #evictionRisk: string | null = null;
  /** The fleet's format key is newer than ours (re-read at each watch). */
  #fleetFormatRisk: string | null = null;
  /** A marker or stream entry of a newer format was met: kept until restart (an upgrade). */
  #seenFormatRisk: string | null = null;
  /** Non-null while any risk holds: confirm() and decide() read it on every call. */
  #risk: RedisRisk | null = null;
  #watching: Promise<void> | null = null;
  #watchAgain = false;
  #watchTimer: NodeJS.Timeout | undefined;
  /** The fleet epoch decide() requires ('' = none required). */
  #expectedEpoch = '';
  #ruleWrites: RuleWriteObserver | null = null;

  private constructor(fast: Client, bulk: Client, prefix: string, options: RedisStoreOptions, dial: Dial) {
    this.#fast = fast;
    this.#bulk = bulk;
    this.prefix = prefix;
    this.#dial = dial;
    this.#confirmTimeoutMs = options.confirmTimeoutMs ?? 50;
    this.#maxInFlight = options.maxConfirmsInFlight ?? 1000;
    this.#allowEviction = options.allowEviction ?? false;
    this.#onStateChange = options.onStateChange;
    this.#onError = options.onError;
    this.#hungSocketMs = options.hungSocketMs ?? 5000;
    this.#reconnectMaxDelayMs = options.reconnectMaxDelayMs ?? 2000;
    this.#changesMaxLen = options.changesMaxLen ?? 1_000_000;
    fast.on('ready', () => this.#setUp(true));
    fast.on('close', () => this.#setUp(false));
    // A reconnection may reach another server (a fail-over to a replica configured differently): re-read at once.
    for (const client of [fast, bulk]) client.on('ready', () => void this.#watch());
    this.#watchTimer = setInterval(() => void this.#watch(), options.watchMs ?? 1000);
    this.#watchTimer.unref();
  }

  /** Connects both connections and waits until they are ready (rejects with CALLGATE_ERR_REDIS after connectTimeoutMs). */
  static async connect(options: RedisStoreOptions = {}): Promise<RedisStore> {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    assertPrefix(prefix);
    const confirmTimeoutMs = options.confirmTimeoutMs ?? 50;
    positive('confirmTimeoutMs', confirmTimeoutMs);
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    positive('connectTimeoutMs', connectTimeoutMs);
    const maxDelay = options.reconnectMaxDelayMs ?? 2000;
    positive('reconnectMaxDelayMs', maxDelay);
    positive('maxConfirmsInFlight', options.maxConfirmsInFlight ?? 1000);
    positive('hungSocketMs', options.hungSocketMs ?? 5000);
    positive('changesMaxLen', options.changesMaxLen ?? 1_000_000);
    positive('watchMs', options.watchMs ?? 1000);
    const url = options.url ?? 'redis://127.0.0.1:6379';
    if (!/^rediss?:\/\//.test(url)) {
      throw new CallgateError(ErrorCode.CONFIG, `Redis URL must start with redis:// or rediss://, got ${JSON.stringify(maskUrl(url))}`);
    }
    if (options.sentinels !== undefined && options.sentinels.length > 0 && !options.sentinelName) {
      throw new CallgateError(ErrorCode.CONFIG, 'sentinelName is required with sentinels');
    }
    const base: RedisOptions = {
      // Fail fast while disconnected: a queued confirm would answer after the dialer gave up on it.
      enableOfflineQueue: false,
      // Reconnect forever with capped exponential backoff.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 16), maxDelay),
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: Math.min(connectTimeoutMs, 10_000),
      ...(options.sentinels !== undefined && options.sentinels.length > 0
        ? { sentinels: options.sentinels.map((s) => ({ host: s.host, port: s.port })), name: options.sentinelName }
        : {}),
    };
    const make = (name: string, extra: RedisOptions): Client => {
      const client = new Redis(url, { ...base, ...extra, connectionName: `callgate-${name}` }) as Client;
      client.on('error', (err: Error) => options.onError?.(err));
      for (const [command, lua, numberOfKeys] of SCRIPTS) {
        client.defineCommand(command, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
      }
      return client;
    };
    const dial: Dial = async (name, extra) => {
      const client = make(name, extra);
      try {
        await whenReady(client, connectTimeoutMs, url);
      } catch (err) {
        client.disconnect();
        throw err;
      }
      return client;
    };
    const fast = make('confirm', { socketTimeout: options.hungSocketMs ?? 5000 });
    const bulk = make('bulk', {});
    const store = new RedisStore(fast, bulk, prefix, options, dial);
    try {
      await Promise.all([whenReady(fast, connectTimeoutMs, url), whenReady(bulk, connectTimeoutMs, url)]);
    } catch (err) {
      await store.close();
      throw err;
    }
    // Risks are known before the first check is answered.
    await store.#watch();
    return store;
  }

  /** What currently makes Redis's answers untrustworthy (see RedisRisk); both null when nothing does. */
  risk(): RedisRisk {
    return this.#risk ?? { eviction: null, format: null };
  }

  /** Calls listener whenever risk() changes (raised or cleared); returns the function that stops it. */
  watchRisk(listener: (risk: RedisRisk) => void): () => void {
    this.#riskListeners.add(listener);
    return () => this.#riskListeners.delete(listener);
  }

  /** Re-reads the eviction policy, evicted_keys and the fleet format now (single flight); never throws. */
  async watchNow(): Promise<void> {
    await this.#watch();
  }

  #watch(): Promise<void> {
    if (this.#watching !== null) {
      this.#watchAgain = true;
      return this.#watching;
    }
    const run = (async () => {
      do {
        this.#watchAgain = false;
        if (this.#closed) return;
        try {
          await this.#watchOnce();
        } catch (err) {
          // Unreachable Redis: confirms already read 'unconfirmed'; the next reconnection or tick re-reads.
          this.#onError?.(err instanceof Error ? err : new Error(String(err)));
        }
      } while (this.#watchAgain);
    })().finally(() => {
      this.#watching = null;
    });
    this.#watching = run;
    return run;
  }

  async #watchOnce(): Promise<void> {
    const stats = await this.#serverStats();
    // The format script writes: under maxmemory it fails (OOM) while INFO still answers, and the eviction risk
    // must not wait for it. Without its answer, nothing is accepted and the fleet's format is as last read.
    let format: string | undefined;
    let ack = '';
    let fleetFormat = this.#fleetFormatRisk;
    try {
      const reply: unknown = await this.#bulk.cgFormat(formatKey(this.prefix), evictionsAckKey(this.prefix), FORMAT_VERSION);
      [format, ack = ''] = Array.isArray(reply) ? (reply as unknown[]).map((v) => (typeof v === 'string' ? v : String(v))) : [];
      fleetFormat = null;
      decodeFormat(format ?? 'unreadable', 'the fleet (its format key)');
    } catch (err) {
      if (isCallgateError(err, ErrorCode.FORMAT)) fleetFormat = err.message;
      else this.#onError?.(err instanceof Error ? err : new Error(String(err)));
    }
    let eviction: string | null = null;
    if (stats.policy !== 'noeviction' && !this.#allowEviction) {
      eviction = `Redis maxmemory-policy is ${stats.policy}: it may evict callgate's keys (only noeviction is safe)`;
    }
    const accepted = acceptedEvictions(ack, stats.runId);
    if (stats.evicted === null) {
      eviction ??= 'Redis does not report evicted_keys (INFO stats): evictions cannot be ruled out';
    } else if (stats.evicted > accepted) {
      eviction = `Redis evicted ${stats.evicted} keys (server ${stats.runId.slice(0, 12)}; ${accepted} accepted): callgate's lists, refusals or attempts may be incomplete`;
    }
    this.#setRisk(eviction, fleetFormat, this.#seenFormatRisk);
  }

  /** Reads run_id, evicted_keys and maxmemory_policy from one INFO (CONFIG GET for the policy when INFO lacks it). */
  async #serverStats(): Promise<{ runId: string; evicted: number | null; policy: string }> {
    let info = '';
    try {
      info = await this.#bulk.info();
    } catch (err) {
      if (!(err instanceof Error) || !/unknown command|NOPERM|disabled/i.test(err.message)) throw err;
    }
    const field = (name: string): string | undefined => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
    const evicted = field('evicted_keys');
    return {
      runId: field('run_id') ?? '',
      evicted: evicted !== undefined && /^\d+$/.test(evicted) ? Number(evicted) : null,
      policy: field('maxmemory_policy') ?? (await this.#evictionPolicy()),
    };
  }

  #setRisk(eviction: string | null, fleetFormat: string | null, seenFormat: string | null): void {
    const format = fleetFormat ?? seenFormat;
    this.#fleetFormatRisk = fleetFormat;
    this.#seenFormatRisk = seenFormat;
    const before = this.#risk;
    const changed = (before?.eviction ?? null) !== eviction || (before?.format ?? null) !== format;
    this.#evictionRisk = eviction;
    this.#risk = eviction === null && format === null ? null : { eviction, format };
    if (!changed) return;
    const risk = this.risk();
    for (const listener of [...this.#riskListeners]) {
      try {
        listener(risk);
      } catch (err) {
        this.#onError?.(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** A marker or stream entry of a newer format: fail closed until this sidecar is upgraded (restarted). */
  #noteFormat(err: unknown): void {
    if (!isCallgateError(err, ErrorCode.FORMAT) || this.#seenFormatRisk !== null) return;
    this.#setRisk(this.#evictionRisk, this.#fleetFormatRisk, err.message);
  }

  /**
   * The operator's answer to an eviction: accepts the evictions counted so far (fleet-wide, in Redis), so that
   * checks stop answering 'unconfirmed' for them. Run it once the damage is repaired (lists reloaded; refusals
   * and attempts evicted are lost). A policy that can evict is not accepted this way: set noeviction.
   * Throws CALLGATE_ERR_REDIS.
   */
  async acceptEvictions(): Promise<{ runId: string; evicted: number }> {
    let stats: { runId: string; evicted: number | null };
    try {
      stats = await this.#serverStats();
      if (stats.evicted === null || stats.runId === '') throw new Error('INFO does not report run_id and evicted_keys');
      await this.#bulk.set(evictionsAckKey(this.prefix), `${stats.runId}:${stats.evicted}`);
    } catch (err) {
      throw redisError('accepting evictions', err);
    }
    await this.#watch();
    return { runId: stats.runId, evicted: stats.evicted };
  }

  /** True while the confirm connection is ready. */
  isUp(): boolean {
    return this.#fast.status === 'ready';
  }

  /**
   * Checks every item in ONE round trip. Never throws. 'member' when the key is in the generation or in the
   * list's intraday additions; 'absent' only when Redis answered with the generation's marker present;
   * timeout, disconnection, any error or a vanished marker read 'unconfirmed'.
   */
  confirm(items: readonly ConfirmItem[]): Promise<Membership[]> {
    const n = items.length;
    if (n === 0) return Promise.resolve([]);
    const unconfirmed = (): Membership[] => new Array<Membership>(n).fill('unconfirmed');
    if (this.#closed || this.#fast.status !== 'ready' || this.#inFlight >= this.#maxInFlight) {
      return Promise.resolve(unconfirmed());
    }
    if (this.#risk !== null) return Promise.resolve(unconfirmed());
    const args: Array<string | number> = new Array<string | number>(6 * n);
    for (let i = 0; i < n; i++) {
      const item = items[i] as ConfirmItem;
      const { key } = item;
      if (!Number.isSafeInteger(key) || key < 0 || !validPlan(item.buckets)) {
        return Promise.resolve(unconfirmed());
      }
      const k = this.#generationKeys(item.list, item.generation);
      const member = memberOf(key);
      const high = highOf(key);
      const buckets = bucketsOfPart(item.buckets, high);
      args[3 * i] = k.marker;
      args[3 * i + 1] = buckets === 0 ? k.marker : `${k.bucketBase}${high}.${bucketIndexOf(member, buckets)}`;
      args[3 * i + 2] = k.added;
      args[3 * n + 3 * i] = member;
      // A safe integer prints as its plain decimal digits, the intraday ZSET's member.
      args[3 * n + 3 * i + 1] = String(key);
      args[3 * n + 3 * i + 2] = bucketMode(item.buckets, buckets);
    }
    return this.#bounded((fast) => fast.cgConfirm(3 * n, ...args), (reply) => parseConfirmReply(reply, n), unconfirmed);
  }

  /**
   * Sends one script on the confirm connection and settles within confirmTimeoutMs, never rejecting: a timeout,
   * a send failure or an error reply resolves to fallback(). The in-flight count covers replies still owed.
   */
  #bounded<T>(send: (fast: Client) => Promise<unknown>, parse: (reply: unknown) => T, fallback: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        resolve(fallback());
      }, this.#confirmTimeoutMs);
      this.#inFlight++;
      let sent: Promise<unknown>;
      try {
        sent = send(this.#fast);
      } catch {
        sent = Promise.reject(new Error('send failed'));
      }
      sent.then(
        (reply) => {
          this.#inFlight--;
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(parse(reply));
        },
        () => {
          this.#inFlight--;
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(fallback());
        },
      );
    });
  }

  /**
   * The calling-rules check in ONE round trip and one atomic script: confirms the items as confirm() does, reads
   * the consumer's refusal and attempts within the window (dropping older ones), and, when `dial` is set and
   * nothing blocks (no deny item 'member' or 'unconfirmed' unless lifted by a contract, not jsBlocked, no running
   * refusal, consent or contract 'member' when required, attempts below the cap), records this attempt.
   * The caller may dial only when `counted` is true: a pure policy evaluated on these facts agrees with it, and
   * anything else (timeout, error) reads counted false. Never throws: bad input, timeout, disconnection or an error
   * answer every item 'unconfirmed' with answered false. A timed-out script may still have counted an attempt
   * (the quota is then used without a call: the safe side).
   */
  decide(input: DecideInput): Promise<DecideFacts> {
    const { items, key } = input;
    const n = items.length;
    const failed = (): DecideFacts => ({
      memberships: new Array<AllowAnswer>(n).fill('unconfirmed'),
      terms: new Array<string | null>(n).fill(null),
      refusedUntil: null,
      refusedAt: null,
      attempts: 0,
      oldestAttemptAt: null,
      counted: false,
      now: Date.now(),
      answered: false,
    });
    const cap = input.cap === undefined ? DEFAULT_ATTEMPT_CAP : input.cap;
    const windowMs = input.windowMs ?? DEFAULT_ATTEMPT_WINDOW_MS;
    if (
      this.#closed ||
      this.#fast.status !== 'ready' ||
      this.#inFlight >= this.#maxInFlight ||
      !Number.isSafeInteger(key) ||
      key <= 0 ||
      (cap !== null && (!Number.isSafeInteger(cap) || cap < 0)) ||
      !Number.isSafeInteger(windowMs) ||
      windowMs < 1 ||
      this.#risk !== null
    ) {
      return Promise.resolve(failed());
    }
    const keys: string[] = [refusedKey(this.prefix, key), attemptsKey(this.prefix, key)];
    const args: Array<string | number> = [
      input.dial ? '1' : '0',
      input.requireConsent ? '1' : '0',
      input.jsBlocked ? '1' : '0',
      cap === null ? '' : cap,
      windowMs,
      input.refusals === false ? '0' : '1',
      // Unique per attempt (two attempts in the same ms are two members): this process's random id and a
      // counter, not a crypto call per check (measured ~9 µs).
      `${ATTEMPT_ID_PREFIX}${(attemptSeq = (attemptSeq + 1) % Number.MAX_SAFE_INTEGER).toString(36)}`,
      n,
      refusalTtlMs(DEFAULT_REFUSAL_DAYS),
    ];
    const suffix = args[6] as string;
    for (let i = 0; i < n; i++) {
      const item = items[i] as DecideItem;
      const role = ROLE_CODES[item.role] as string | undefined;
      if (!Number.isSafeInteger(item.key) || item.key < 0 || !validPlan(item.buckets) || role === undefined) {
        return Promise.resolve(failed());
      }
      const member = memberOf(item.key);
      const high = highOf(item.key);
      const buckets = bucketsOfPart(item.buckets, high);
      const k = this.#generationKeys(item.list, item.generation);
      keys.push(k.marker, buckets === 0 ? k.marker : `${k.bucketBase}${high}.${bucketIndexOf(member, buckets)}`, k.added, k.revoked, k.terms);
      args.push(member, String(item.key), role, bucketMode(item.buckets, buckets));
    }
    keys.push(epochKey(this.prefix));
    args.push(this.#expectedEpoch);
    const observer = this.#ruleWrites;
    return this.#bounded(
      (fast) => fast.cgDecide(keys.length, ...keys, ...args),
      (reply) => {
        const facts = parseDecideReply(reply, n);
        if (facts === null) return failed();
        if (facts.counted) observer?.attempt(key, facts.now, `${facts.now}-${suffix}`);
        return facts;
      },
      failed,
    );
  }

  /** The per-generation keys of a confirm() or decide() item, built once per generation rather than on every check. */
  #generationKeys(list: string, generation: string): DecideKeys {
    const id = `${list}\u0000${generation}`;
    let k = this.#generationKeyCache.get(id);
    if (k === undefined) {
      // Generations change nightly: a small cache, emptied when it fills, never grows.
      if (this.#generationKeyCache.size >= 64) this.#generationKeyCache.clear();
      k = {
        marker: markerKey(this.prefix, list, generation),
        bucketBase: bucketKey(this.prefix, list, generation, ''),
        added: addedKey(this.prefix, list),
        revoked: revokedKey(this.prefix, list),
        terms: termsKey(this.prefix, list, generation),
      };
      this.#generationKeyCache.set(id, k);
    }
    return k;
  }

  /**
   * Records how a call ended. 'refused' starts (or restarts) the no-call period: `{p}refused:KEY` = now, expiring
   * after refusalTtlMs(refusalDays), never shortening a longer period running. 'no_answer' and 'answered' change
   * nothing: decide() counted the attempt at dial time. Returns Redis's clock (ms). Throws CALLGATE_ERR_BAD_REQUEST
   * on a bad key, CALLGATE_ERR_CONFIG on bad refusalDays, CALLGATE_ERR_REDIS when Redis fails (retry: it is idempotent
   * but for the refusal time).
   */
  async recordOutcome(key: NumberKey, outcome: CallOutcome, options: OutcomeOptions = {}): Promise<number> {
    const refusedAt = refusedKey(this.prefix, key);
    if (outcome !== 'refused' && outcome !== 'answered' && outcome !== 'no_answer') {
      throw new CallgateError(ErrorCode.BAD_REQUEST, `outcome must be no_answer, answered or refused, got ${JSON.stringify(outcome)}`);
    }
    const ttl = refusalTtlMs(options.refusalDays ?? DEFAULT_REFUSAL_DAYS);
    let reply: unknown;
    try {
      reply = await this.#fast.cgOutcome(refusedAt, outcome, ttl);
    } catch (err) {
      throw redisError(`recording a call outcome (${outcome})`, err);
    }
    const at = Number(reply);
    if (outcome === 'refused') this.#ruleWrites?.refusal(key, at, at + ttl);
    return at;
  }

  /** The consumer's attempts within the window (Redis clock), for tests and the audit trail. Throws CALLGATE_ERR_REDIS. */
  async attemptsOf(key: NumberKey, options: { readonly windowMs?: number | undefined } = {}): Promise<AttemptsRecord> {
    const windowMs = options.windowMs ?? DEFAULT_ATTEMPT_WINDOW_MS;
    positiveInteger('windowMs', windowMs);
    const attempts = attemptsKey(this.prefix, key);
    let reply: unknown;
    try {
      reply = await this.#bulk.cgAttempts(attempts, windowMs);
    } catch (err) {
      throw redisError('reading attempts', err);
    }
    const values = Array.isArray(reply) ? (reply as unknown[]).map(Number) : [];
    const [now = Number.NaN, ...times] = values;
    return { count: times.length, times, now };
  }

  /**
   * Writes a complete generation: registers it in the list's gens ZSET FIRST (so an interrupted load leaves a
   * trace for collectGarbage), then members, the filter, and the marker LAST (a generation without a marker is
   * incomplete and never read). The marker is written only if garbage collection has not claimed the
   * generation meanwhile (CALLGATE_ERR_GENERATION_MISMATCH then, and the written keys are removed).
   * Does not switch the pointer.
   */
  async writeGeneration(input: WriteGenerationInput): Promise<GenerationMarker> {
    assertListName(input.list);
    const generation = input.generation ?? newGenerationId();
    assertGenerationId(generation);
    const { keys, list } = input;
    const buckets = planBuckets(keys);
    const marker: GenerationMarker = {
      list,
      kind: input.kind,
      ...(input.kind === 'allow' && input.role != null ? { role: input.role } : {}),
      generation,
      count: keys.length,
      normaliserVersion: input.normaliserVersion,
      hashId: input.hashId,
      fingerprint: input.fingerprint,
      sourceDate: input.sourceDate,
      buckets,
      createdAt: new Date().toISOString(),
      filterBytes: input.filter.length,
      layout: BUCKET_LAYOUT,
      format: FORMAT_VERSION,
    };
    // Validates the marker before any write, with the same rules readers apply.
    decodeMarker(encodeMarker(marker));
    let written: unknown;
    // The fleet's epoch comes with its first generation (a sidecar that saw it learns a wipe from its loss).
    await this.ensureEpoch();
    try {
      await this.#bulk.cgRegister(gensKey(this.prefix, list), generation);
      await this.#writeMembers(list, generation, keys, buckets);
      if (input.terms) await this.#writeTerms(termsKey(this.prefix, list, generation), input.terms);
      await this.#writeFilter(filterKey(this.prefix, list, generation), input.filter);
      written = await this.#bulk.cgMarker(
        gensKey(this.prefix, list),
        markerKey(this.prefix, list, generation),
        generation,
        ...Object.entries(encodeMarker(marker)).flat(),
      );
    } catch (err) {
      throw redisError(`writing generation ${list}/${generation}`, err);
    }
    if (written !== 1) {
      await this.#deleteKeys(list, generation).catch(() => undefined);
      throw new CallgateError(
        ErrorCode.GENERATION_MISMATCH,
        `generation ${list}/${generation} was garbage-collected while being written (the load took longer than the collector's grace)`,
      );
    }
    return marker;
  }

  async #writeMembers(list: string, generation: string, keys: Float64Array, plan: PartBuckets): Promise<void> {
    let pipeline = this.#bulk.pipeline();
    let queued = 0;
    const flush = async (): Promise<void> => {
      if (queued === 0) return;
      const results = await pipeline.exec();
      for (const [err] of results ?? []) if (err) throw err;
      pipeline = this.#bulk.pipeline();
      queued = 0;
    };
    // Keys are sorted, so keys sharing a high part form one run; a counting sort of each run by bucket index
    // groups the members without a Map of arrays (12M keys) and keeps them ascending inside each bucket,
    // so every intset insert is an append. Every bucket of the part is written: an empty one gets the placeholder.
    let start = 0;
    while (start < keys.length) {
      const high = highOf(keys[start] as number);
      const buckets = plan.parts.get(high) ?? 0;
      const counts = new Uint32Array(buckets + 1);
      let end = start;
      let previous = -1;
      while (end < keys.length) {
        const key = keys[end] as number;
        if (highOf(key) !== high) break;
        if (!Number.isSafeInteger(key) || key < 0 || key <= previous) {
          throw new CallgateError(ErrorCode.REDIS, `keys must be sorted unique non-negative integers (index ${end})`);
        }
        previous = key;
        end++;
      }
      const runLength = end - start;
      if (buckets !== bucketCount(runLength)) throw new CallgateError(ErrorCode.REDIS, `keys must be sorted (part ${high} split at index ${start})`);
      const index = new Uint32Array(runLength);
      for (let i = 0; i < runLength; i++) {
        const b = bucketIndexOf(memberOf(keys[start + i] as number), buckets);
        index[i] = b;
        (counts[b + 1] as number)++;
        // A sidecar loading 12 million numbers keeps answering checks: yield every so often.
        if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
      }
      for (let b = 1; b <= buckets; b++) counts[b] = (counts[b] as number) + (counts[b - 1] as number);
      const sorted = new Uint32Array(runLength);
      const cursor = counts.slice(0, buckets);
      for (let i = 0; i < runLength; i++) {
        const b = index[i] as number;
        sorted[(cursor[b] as number)++] = memberOf(keys[start + i] as number);
        if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
      }
      for (let b = 0; b < buckets; b++) {
        const from = counts[b] as number;
        const to = counts[b + 1] as number;
        const members = from === to ? [EMPTY_BUCKET_MEMBER] : Array.from(sorted.subarray(from, to));
        pipeline.sadd(bucketKey(this.prefix, list, generation, `${high}.${b}`), ...members);
        if (++queued >= COMMANDS_PER_FLUSH) await flush();
      }
      start = end;
    }
    await flush();
  }

  async #writeTerms(key: string, terms: ReadonlyMap<NumberKey, string>): Promise<void> {
    let fields: string[] = [];
    const flush = async (): Promise<void> => {
      if (fields.length > 0) await this.#bulk.hset(key, ...fields);
      fields = [];
    };
    for (const [k, v] of terms) {
      fields.push(String(k), v);
      if (fields.length >= 2 * TERMS_PER_HSET) await flush();
    }
    await flush();
  }

  async #writeFilter(key: string, filter: Buffer): Promise<void> {
    // SET the first chunk (overwrites leftovers), APPEND the rest: no single command carries 25 MB.
    await this.#bulk.set(key, filter.subarray(0, FILTER_CHUNK_BYTES));
    for (let offset = FILTER_CHUNK_BYTES; offset < filter.length; offset += FILTER_CHUNK_BYTES) {
      await this.#bulk.append(key, filter.subarray(offset, offset + FILTER_CHUNK_BYTES));
    }
    const length = await this.#bulk.strlen(key);
    if (length !== filter.length) {
      throw new CallgateError(ErrorCode.REDIS, `filter ${key} holds ${length} bytes after writing ${filter.length}`);
    }
  }

  /**
   * Points the list at a complete generation and publishes a switch notice on `{p}events`, in one script;
   * with clearIntradayBefore, also drops older intraday additions in that script. Returns the previous
   * generation id, if any.
   */
  async switchCurrent(list: string, generation: string, options: SwitchOptions = {}): Promise<string | null> {
    const clearBefore = options.clearIntradayBefore;
    if (clearBefore !== undefined && !Number.isFinite(clearBefore)) {
      throw new CallgateError(ErrorCode.CONFIG, `clearIntradayBefore must be a finite number of ms, got ${String(clearBefore)}`);
    }
    const reply = await this.#switch(list, generation, clearBefore, undefined);
    if (reply.status !== 'switched') {
      throw new CallgateError(ErrorCode.GENERATION_MISMATCH, `cannot switch ${list} to ${generation}: it has no marker (incomplete or deleted)`);
    }
    return reply.previous;
  }

  /** expected: switch only when the pointer is this (null: no pointer); undefined: unconditionally. */
  async #switch(
    list: string,
    generation: string,
    clearBefore: number | undefined,
    expected: string | null | undefined,
  ): Promise<{ status: 'switched' | 'no-marker' | 'moved'; previous: string | null }> {
    assertListName(list);
    assertGenerationId(generation);
    let reply: unknown;
    try {
      reply = await this.#bulk.cgSwitch(
        pointerKey(this.prefix, list),
        listsKey(this.prefix),
        markerKey(this.prefix, list, generation),
        gensKey(this.prefix, list),
        addedKey(this.prefix, list),
        list,
        generation,
        clearBefore === undefined ? '' : String(clearBefore),
        eventsChannel(this.prefix),
        encodeSwitchEvent(list, generation),
        expected === undefined ? '' : '1',
        expected ?? '',
      );
    } catch (err) {
      throw redisError(`switching ${list} to ${generation}`, err);
    }
    const code: unknown = Array.isArray(reply) ? reply[0] : undefined;
    const previous: unknown = Array.isArray(reply) ? reply[1] : undefined;
    return {
      status: code === 1 ? 'switched' : code === 2 ? 'moved' : 'no-marker',
      previous: typeof previous === 'string' ? previous : null,
    };
  }

  /**
   * Gives a list with no source file (only intraday changes, e.g. 'internal') a current generation so that
   * confirm has a marker to check: when the list has no readable current generation, writes one with zero
   * members (fingerprint = sha256 of nothing) and switches to it only if the pointer did not move meanwhile.
   * An existing current generation is returned as is, whatever its kind or count.
   */
  async ensureEmptyGeneration(list: string, kind: ListKind, input: EmptyGenerationInput): Promise<{ marker: GenerationMarker; created: boolean }> {
    assertListName(list);
    let ours: GenerationMarker | null = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.readCurrent(list);
      if (current !== null) {
        if (ours !== null) await this.deleteGeneration(list, ours.generation).catch(() => undefined);
        return { marker: current, created: false };
      }
      let pointer: string | null;
      try {
        pointer = await this.#bulk.get(pointerKey(this.prefix, list));
      } catch (err) {
        throw redisError(`reading the pointer of ${list}`, err);
      }
      ours ??= await this.writeGeneration({
        list,
        kind,
        keys: new Float64Array(0),
        filter: input.filter,
        normaliserVersion: input.normaliserVersion,
        hashId: input.hashId,
        fingerprint: EMPTY_FINGERPRINT,
      });
      const reply = await this.#switch(list, ours.generation, undefined, pointer);
      if (reply.status === 'switched') return { marker: ours, created: true };
      if (reply.status === 'no-marker') ours = null; // collected meanwhile: write another
    }
    throw new CallgateError(ErrorCode.GENERATION_MISMATCH, `could not give ${list} an empty generation: its pointer keeps moving`);
  }

  /** The list's current generation, or null when it has none (or its marker vanished). */
  async readCurrent(list: string): Promise<GenerationMarker | null> {
    assertListName(list);
    try {
      // Re-read when the pointer moved between the two reads (a switch then a delete of the old generation).
      for (let attempt = 0; attempt < 3; attempt++) {
        const generation = await this.#bulk.get(pointerKey(this.prefix, list));
        if (generation === null) return null;
        const fields = await this.#bulk.hgetall(markerKey(this.prefix, list, generation));
        if (Object.keys(fields).length > 0) return decodeMarker(fields, { list, generation });
        if ((await this.#bulk.get(pointerKey(this.prefix, list))) === generation) return null;
      }
      return null;
    } catch (err) {
      this.#noteFormat(err);
      throw redisError(`reading the current generation of ${list}`, err);
    }
  }

  /** Every name in the list registry as stored, sorted, valid list name or not (a discovering sidecar judges). */
  async listNames(): Promise<string[]> {
    try {
      return (await this.#bulk.smembers(listsKey(this.prefix))).sort();
    } catch (err) {
      throw redisError('reading the list names', err);
    }
  }

  /** Current generations of every list Redis knows, sorted by list name. */
  async currentLists(): Promise<GenerationMarker[]> {
    let names: string[];
    try {
      names = await this.#bulk.smembers(listsKey(this.prefix));
    } catch (err) {
      throw redisError('reading the list names', err);
    }
    const markers: GenerationMarker[] = [];
    for (const name of names.sort()) {
      const marker = await this.readCurrent(name);
      if (marker) markers.push(marker);
    }
    return markers;
  }

  /** The generation's filter in chunks (a 25 MB reply would stall Redis for others), or null when missing or truncated. */
  async readFilter(marker: GenerationMarker): Promise<Buffer | null> {
    const key = filterKey(this.prefix, marker.list, marker.generation);
    try {
      const length = await this.#bulk.strlen(key);
      if (length !== marker.filterBytes || (length === 0 && (await this.#bulk.exists(key)) === 0)) return null;
      const parts: Buffer[] = [];
      for (let offset = 0; offset < length; offset += FILTER_CHUNK_BYTES) {
        parts.push(await this.#bulk.getrangeBuffer(key, offset, Math.min(offset + FILTER_CHUNK_BYTES, length) - 1));
      }
      const filter = Buffer.concat(parts, length);
      return filter.length === marker.filterBytes ? filter : null;
    } catch (err) {
      throw redisError(`reading the filter of ${marker.list}/${marker.generation}`, err);
    }
  }

  /**
   * Deletes a generation: marker FIRST, so readers still holding it get 'unconfirmed' rather than 'absent'
   * while the buckets go; then buckets (SCAN + UNLINK in batches) and the filter. Refuses the current one.
   * Returns the number of keys removed.
   */
  async deleteGeneration(list: string, generation: string): Promise<number> {
    assertListName(list);
    assertGenerationId(generation);
    const claimed = await this.#claim(list, generation, NO_CUTOFF, false);
    if (claimed === null) {
      throw new CallgateError(ErrorCode.GENERATION_MISMATCH, `refusing to delete ${list}/${generation}: it is the current generation`);
    }
    return claimed + (await this.#deleteKeys(list, generation));
  }

  /**
   * The marker-first half of a deletion, atomic with the check that the generation is not current.
   * Returns null for the current generation, -1 when skipped (not registered before the cutoff, if required),
   * else the number of markers deleted (0 or 1).
   */
  async #claim(list: string, generation: string, cutoff: string, registered: boolean): Promise<number | null> {
    let reply: unknown;
    try {
      reply = await this.#bulk.cgClaim(
        pointerKey(this.prefix, list),
        gensKey(this.prefix, list),
        markerKey(this.prefix, list, generation),
        generation,
        cutoff,
        registered ? '1' : '0',
      );
    } catch (err) {
      throw redisError(`deleting ${list}/${generation}`, err);
    }
    const code: unknown = Array.isArray(reply) ? reply[0] : undefined;
    if (code === -1) return null;
    if (code !== 1) return -1;
    const markers: unknown = Array.isArray(reply) ? reply[1] : 0;
    return typeof markers === 'number' ? markers : 0;
  }

  /** Buckets (SCAN + UNLINK in batches) and filter of a claimed generation, then its registration. */
  async #deleteKeys(list: string, generation: string): Promise<number> {
    try {
      let removed = 0;
      const pattern = bucketPattern(this.prefix, list, generation);
      let cursor = '0';
      do {
        const [next, found] = await this.#bulk.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (let i = 0; i < found.length; i += UNLINK_BATCH) {
          removed += await this.#bulk.unlink(...found.slice(i, i + UNLINK_BATCH));
        }
      } while (cursor !== '0');
      removed += await this.#bulk.unlink(filterKey(this.prefix, list, generation), termsKey(this.prefix, list, generation));
      // Last: an interrupted deletion stays registered (score 0) and is collected again.
      await this.#bulk.zrem(gensKey(this.prefix, list), generation);
      return removed;
    } catch (err) {
      throw redisError(`deleting ${list}/${generation}`, err);
    }
  }

  /** Registered generations of a list with their start times (ms, Redis clock; 0 = being deleted), oldest first. */
  async generations(list: string): Promise<Array<{ generation: string; startedAt: number }>> {
    assertListName(list);
    let flat: string[];
    try {
      flat = await this.#bulk.zrange(gensKey(this.prefix, list), '0', '-1', 'WITHSCORES');
    } catch (err) {
      throw redisError(`reading the generations of ${list}`, err);
    }
    const out: Array<{ generation: string; startedAt: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ generation: flat[i] as string, startedAt: Number(flat[i + 1]) });
    return out;
  }

  /** When a generation was registered (ms, Redis clock), or null when it is not: the natural clearIntradayBefore. */
  async generationStartedAt(list: string, generation: string): Promise<number | null> {
    assertListName(list);
    assertGenerationId(generation);
    try {
      const score = await this.#bulk.zscore(gensKey(this.prefix, list), generation);
      return score === null ? null : Number(score);
    } catch (err) {
      throw redisError(`reading the start of ${list}/${generation}`, err);
    }
  }

  /** Redis's clock, ms. */
  async now(): Promise<number> {
    try {
      const [seconds, micros] = await this.#bulk.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    } catch (err) {
      throw redisError('reading TIME', err);
    }
  }

  /**
   * Deletes the list's generations that are not current, not read by a live sidecar and registered more than
   * graceMs ago (old generations, and interrupted loads, which never got a marker). Marker first, so a
   * sidecar still reading one gets 'unconfirmed', never 'absent'. graceMs must exceed the longest load:
   * a load collected mid-way fails at its marker write instead of publishing a partial generation.
   */
  async collectGarbage(list: string, options: GarbageOptions): Promise<{ deleted: string[] }> {
    assertListName(list);
    if (!Number.isFinite(options.graceMs) || options.graceMs < 0) {
      throw new CallgateError(ErrorCode.CONFIG, `graceMs must be a non-negative number, got ${String(options.graceMs)}`);
    }
    const now = options.now ?? (await this.now());
    const cutoff = now - options.graceMs;
    const inUse = new Set<string>();
    for (const sidecar of await this.liveSidecars()) {
      for (const u of sidecar.inUse) if (u.list === list) inUse.add(u.generation);
    }
    let candidates: string[];
    try {
      candidates = await this.#bulk.zrangebyscore(gensKey(this.prefix, list), '-inf', `(${cutoff}`);
    } catch (err) {
      throw redisError(`reading the generations of ${list}`, err);
    }
    const deleted: string[] = [];
    for (const generation of candidates) {
      if (inUse.has(generation)) continue;
      try {
        assertGenerationId(generation);
      } catch {
        // Not ours to interpret (written by hand?): drop the entry, touch no keys.
        await this.#bulk.zrem(gensKey(this.prefix, list), generation).catch(() => undefined);
        continue;
      }
      // The claim re-checks 'not current' and the cutoff atomically.
      const claimed = await this.#claim(list, generation, String(cutoff), true);
      if (claimed === null || claimed < 0) continue;
      await this.#deleteKeys(list, generation);
      deleted.push(generation);
    }
    return { deleted };
  }

  /**
   * Records which generations sidecar instanceId reads, for ttlMs (heartbeat again well before it ends;
   * a sidecar whose record expired is dead to collectGarbage). Runs on the confirm connection: tiny, and never
   * stuck behind bulk writes.
   */
  async heartbeat(instanceId: string, inUse: readonly InUse[], ttlMs: number): Promise<void> {
    assertInstanceId(instanceId);
    positiveInteger('ttlMs', ttlMs);
    const record = encodeInUse(inUse);
    try {
      await this.#fast.cgHeartbeat(sidecarKey(this.prefix, instanceId), sidecarsKey(this.prefix), instanceId, record, ttlMs);
    } catch (err) {
      throw redisError(`heartbeating ${instanceId}`, err);
    }
  }

  /** Sidecars whose heartbeat has not expired, with what they read; forgets expired ones. */
  async liveSidecars(): Promise<SidecarRecord[]> {
    try {
      const flat = await this.#bulk.zrange(sidecarsKey(this.prefix), '0', '-1', 'WITHSCORES');
      const live: SidecarRecord[] = [];
      const dead: string[] = [];
      for (let i = 0; i < flat.length; i += 2 * UNLINK_BATCH) {
        const chunk = flat.slice(i, i + 2 * UNLINK_BATCH);
        const ids = chunk.filter((_, j) => j % 2 === 0);
        const records = await this.#bulk.mget(...ids.map((id) => sidecarKey(this.prefix, id)));
        ids.forEach((id, j) => {
          const record = records[j];
          if (record === null || record === undefined) dead.push(id);
          else live.push({ id, lastSeen: Number(chunk[2 * j + 1]), inUse: decodeInUse(record) });
        });
      }
      for (let i = 0; i < dead.length; i += UNLINK_BATCH) {
        const ids = dead.slice(i, i + UNLINK_BATCH);
        await this.#bulk.cgPrune(1 + ids.length, sidecarsKey(this.prefix), ...ids.map((id) => sidecarKey(this.prefix, id)), ...ids);
      }
      return live;
    } catch (err) {
      throw redisError('reading live sidecars', err);
    }
  }

  /**
   * Takes the fleet lock `name` for ttlMs (SET NX PX with a random token), or null when another holds it.
   * The lock saves duplicate work (one nightly refresh for the fleet); safety never depends on it: markers,
   * the atomic switch and garbage collection's claims hold even with two holders.
   */
  async acquireLock(name: string, ttlMs: number): Promise<Lock | null> {
    assertLockName(name);
    positiveInteger('ttlMs', ttlMs);
    const token = randomBytes(16).toString('hex');
    const key = lockKey(this.prefix, name);
    const sentAt = Date.now();
    let reply: string | null;
    try {
      reply = await this.#fast.set(key, token, 'PX', ttlMs, 'NX');
    } catch (err) {
      throw redisError(`acquiring lock ${name}`, err);
    }
    if (reply !== 'OK') return null;
    const lock = new FleetLock(this.#fast, key, name, token, ttlMs, sentAt, (l) => this.#locks.delete(l));
    this.#locks.add(lock);
    return lock;
  }

  /**
   * Loads every script into Redis (SCRIPT LOAD) and runs the rules script once on a key no consumer has,
   * read-only: cold scripts and connections made the first checks after a start miss their budget and
   * answer 'unconfirmed'. True when Redis answered within the budget.
   */
  async warmUp(): Promise<boolean> {
    try {
      for (const [, lua] of SCRIPTS) await this.#fast.script('LOAD', lua);
    } catch {
      return false;
    }
    const facts = await this.decide({ key: 1, items: [], dial: false, requireConsent: false, jsBlocked: true, cap: null, windowMs: DAY_MS, refusals: false });
    return facts.answered;
  }

  /** Milliseconds until the fleet lock `name` expires; null when nobody holds it (or it has no expiry). */
  async lockTtlMs(name: string): Promise<number | null> {
    assertLockName(name);
    let ttl: number;
    try {
      ttl = await this.#bulk.pttl(lockKey(this.prefix, name));
    } catch (err) {
      throw redisError(`reading the expiry of lock ${name}`, err);
    }
    return ttl >= 0 ? ttl : null;
  }

  /**
   * Calls onEvent for every switch notice on `{p}events` (any store of the fleet), through a dedicated
   * subscriber connection that resubscribes after a reconnection. Notices are a hint: one published while
   * disconnected is lost, so a sidecar still polls readCurrent. Resolves once subscribed; returns the
   * unsubscribe function.
   */
  async subscribe(onEvent: (event: SwitchEvent) => void): Promise<() => Promise<void>> {
    if (this.#closed) throw new CallgateError(ErrorCode.REDIS, 'store closed');
    const entry = { onEvent };
    this.#handlers.add(entry);
    const channel = eventsChannel(this.prefix);
    if (this.#subscriber === null) {
      const opening = (async () => {
        const client = await this.#dial('events', {});
        client.on('message', (from: string, message: string) => {
          if (from !== channel) return;
          const event = decodeEvent(message);
          if (event === null) {
            this.#onError?.(new CallgateError(ErrorCode.REDIS, `ignored malformed notice on ${channel}: ${message.slice(0, 200)}`));
            return;
          }
          for (const h of [...this.#handlers]) {
            try {
              h.onEvent(event);
            } catch (err) {
              this.#onError?.(err instanceof Error ? err : new Error(String(err)));
            }
          }
        });
        try {
          await client.subscribe(channel);
        } catch (err) {
          client.disconnect();
          throw err;
        }
        return client;
      })();
      this.#subscriber = opening;
      opening.catch(() => {
        if (this.#subscriber === opening) this.#subscriber = null;
      });
    }
    try {
      await this.#subscriber;
    } catch (err) {
      this.#handlers.delete(entry);
      throw redisError(`subscribing to ${channel}`, err);
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      this.#handlers.delete(entry);
      if (this.#handlers.size > 0 || this.#subscriber === null) return;
      const subscriber = this.#subscriber;
      this.#subscriber = null;
      await quit(await subscriber.catch(() => null));
    };
  }

  /**
   * Records intraday additions (score: Redis time now) and the change on the stream, atomically. Returns the last
   * stream id. `revocable` (allow-lists): the addition also lifts an earlier revocation of the number.
   */
  addIntraday(list: string, keys: readonly NumberKey[], meta: IntradayMeta): Promise<string> {
    return this.#intraday('add', list, keys, meta);
  }

  /**
   * Removes intraday additions and records the change, atomically. Returns the last stream id. On a deny-list it
   * never touches the file generation (an opt-out in the file stays). On an allow-list (`revocable`) it also
   * records a revocation, which overrides the file's entry at once on every sidecar (DECIDE_LUA reads it).
   */
  removeIntraday(list: string, keys: readonly NumberKey[], meta: IntradayMeta): Promise<string> {
    return this.#intraday('remove', list, keys, meta);
  }

  /** Revocations recorded on an allow-list: number key → when (ms, Redis clock). */
  revocations(list: string): Promise<Map<NumberKey, number>> {
    assertListName(list);
    return this.#scanNumberTimes(revokedKey(this.prefix, list), `reading revocations of ${list}`);
  }

  /** A sorted set of number → time (ms), read whole with ZSCAN; members that are not numbers are skipped. */
  async #scanNumberTimes(key: string, doing: string): Promise<Map<NumberKey, number>> {
    const found = new Map<NumberKey, number>();
    try {
      let cursor = '0';
      do {
        const [next, flat] = await this.#bulk.zscan(key, cursor, 'COUNT', 1000);
        cursor = next;
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const k = Number(flat[i]);
          if (Number.isSafeInteger(k) && k > 0) found.set(k, Number(flat[i + 1]));
        }
      } while (cursor !== '0');
    } catch (err) {
      throw redisError(doing, err);
    }
    return found;
  }

  async #intraday(op: ChangeOp, list: string, keys: readonly NumberKey[], meta: IntradayMeta): Promise<string> {
    const { who } = meta;
    assertListName(list);
    assertWho(who);
    assertIntradayKeys(keys);
    if (keys.length === 0) throw new CallgateError(ErrorCode.BAD_REQUEST, 'no keys');
    let id = '';
    try {
      // One stream entry per chunk, each atomic with its ZSET change.
      for (let i = 0; i < keys.length; i += INTRADAY_CHUNK) {
        const digits = keys.slice(i, i + INTRADAY_CHUNK).map(String);
        const reply: unknown = await this.#bulk.cgIntraday(
          addedKey(this.prefix, list),
          changesKey(this.prefix),
          revokedKey(this.prefix, list),
          op,
          list,
          who,
          this.#changesMaxLen,
          digits.join(','),
          meta.revocable === true ? '1' : '0',
          ...digits,
        );
        id = String(reply);
      }
    } catch (err) {
      throw redisError(`recording intraday ${op} on ${list}`, err);
    }
    return id;
  }

  /** The fleet epoch (see epochKey), or null when Redis holds none. Throws CALLGATE_ERR_REDIS. */
  async readEpoch(): Promise<string | null> {
    try {
      return await this.#bulk.get(epochKey(this.prefix));
    } catch (err) {
      throw redisError('reading the fleet epoch', err);
    }
  }

  /** The fleet epoch, written first (a new random one) when Redis holds none. Throws CALLGATE_ERR_REDIS. */
  async ensureEpoch(): Promise<string> {
    const key = epochKey(this.prefix);
    try {
      await this.#bulk.set(key, randomBytes(8).toString('hex'), 'NX');
      const epoch = await this.#bulk.get(key);
      if (epoch !== null) return epoch;
    } catch (err) {
      throw redisError('writing the fleet epoch', err);
    }
    return this.ensureEpoch();
  }

  /**
   * The epoch decide() requires; null requires none. While Redis holds another (or none), decide() answers
   * nothing (the check blocks): set by a sidecar that knows the fleet's epoch, until it has re-published its copy.
   */
  expectEpoch(epoch: string | null): void {
    this.#expectedEpoch = epoch ?? '';
  }

  /** Who is told of refusals and counted attempts (one observer; null: nobody). */
  observeRuleWrites(observer: RuleWriteObserver | null): void {
    this.#ruleWrites = observer;
  }

  /** Re-publishes a refusal (after a wipe) unless a longer one runs; false when it has ended or one runs. Throws CALLGATE_ERR_REDIS. */
  async restoreRefusal(key: NumberKey, at: number, until: number): Promise<boolean> {
    try {
      return (await this.#bulk.cgRestoreRefusal(refusedKey(this.prefix, key), String(Math.floor(at)), Math.floor(until))) === 1;
    } catch (err) {
      throw redisError('restoring a refusal', err);
    }
  }

  /** Re-publishes attempts (after a wipe) under their own members, so that re-publishing twice counts once. Throws CALLGATE_ERR_REDIS. */
  async restoreAttempts(key: NumberKey, attempts: ReadonlyArray<{ readonly at: number; readonly member: string }>, windowMs: number = DEFAULT_ATTEMPT_WINDOW_MS): Promise<void> {
    if (attempts.length === 0) return;
    const k = attemptsKey(this.prefix, key);
    try {
      await this.#bulk.zadd(k, ...attempts.flatMap((a) => [a.at, a.member]));
      await this.#bulk.pexpire(k, windowMs);
    } catch (err) {
      throw redisError('restoring attempts', err);
    }
  }

  /**
   * Every intraday addition of a list, to seed a sidecar's overlay; call lastChangeId() BEFORE it and follow
   * from that id, so that changes made during the read are replayed. ZSCAN: keys present throughout are
   * returned; one changed meanwhile is settled by the replay.
   */
  async readIntraday(list: string): Promise<IntradayEntry[]> {
    assertListName(list);
    const found = await this.#scanNumberTimes(addedKey(this.prefix, list), `reading intraday additions of ${list}`);
    return [...found].map(([key, at]) => ({ key, at })).sort((a, b) => a.at - b.at || a.key - b.key);
  }

  /** Id of the newest change on the stream, '0-0' when there is none. */
  async lastChangeId(): Promise<string> {
    try {
      const entries = await this.#bulk.xrevrange(changesKey(this.prefix), '+', '-', 'COUNT', 1);
      return entries[0]?.[0] ?? '0-0';
    } catch (err) {
      throw redisError('reading the last change id', err);
    }
  }

  /** Drops intraday additions made before beforeMs (Redis clock); returns how many. */
  async clearIntradayBefore(list: string, beforeMs: number): Promise<number> {
    assertListName(list);
    if (!Number.isFinite(beforeMs)) throw new CallgateError(ErrorCode.CONFIG, `beforeMs must be a finite number, got ${String(beforeMs)}`);
    try {
      return await this.#bulk.zremrangebyscore(addedKey(this.prefix, list), '-inf', `(${beforeMs}`);
    } catch (err) {
      throw redisError(`clearing intraday additions of ${list}`, err);
    }
  }

  /**
   * Calls onChange for every change after fromId, in stream order, forever: a loop of XREAD BLOCK on a
   * dedicated connection that remembers the last id delivered and resumes from it after any error or
   * reconnection (backoff up to maxBackoffMs), so nothing is skipped. A throwing onChange or a malformed entry
   * is reported through onError and passed over. The returned function stops the loop and closes the connection.
   */
  followChanges(fromId: string, onChange: (change: Change) => void, options: FollowOptions = {}): () => Promise<void> {
    if (!isStreamId(fromId)) throw new CallgateError(ErrorCode.CONFIG, `fromId must be a stream id like 1700000000000-0, got ${JSON.stringify(fromId)}`);
    if (this.#closed) throw new CallgateError(ErrorCode.REDIS, 'store closed');
    const blockMs = options.blockMs ?? 5000;
    positiveInteger('blockMs', blockMs);
    const maxBackoffMs = options.maxBackoffMs ?? this.#reconnectMaxDelayMs;
    positive('maxBackoffMs', maxBackoffMs);
    const report = (err: unknown): void => options.onError?.(err instanceof Error ? err : new Error(String(err)));
    const onGap =
      options.onGap ??
      ((lastId: string, firstHeldId: string) =>
        report(new CallgateError(ErrorCode.REDIS, `changes after ${lastId} may have been trimmed (first held: ${firstHeldId}) before being read: seed the overlay again`)));
    const key = changesKey(this.prefix);
    let lastId = fromId;
    let stopped = false;
    let client: Client | null = null;
    let wake: (() => void) | null = null;
    const pause = (ms: number): Promise<void> =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wake = null;
          resolve();
        }, ms);
        wake = () => {
          clearTimeout(timer);
          wake = null;
          resolve();
        };
      });
    const loop = async (): Promise<void> => {
      let backoff = 0;
      let checkGap = true;
      while (!stopped) {
        try {
          // The socket timeout exceeds the block so that only a hung server trips it.
          client ??= await this.#dial('follow', { socketTimeout: blockMs + this.#hungSocketMs });
          if (stopped) break;
          if (checkGap) {
            const firstHeld = await trimmedAfter(client, key, lastId);
            if (firstHeld !== null) onGap(lastId, firstHeld);
            checkGap = false;
          }
          const reply: unknown = await client.xread('COUNT', FOLLOW_COUNT, 'BLOCK', blockMs, 'STREAMS', key, lastId);
          backoff = 0;
          for (const [id, fields] of streamEntries(reply)) {
            if (stopped) break;
            let change: Change | null = null;
            try {
              change = decodeChange(id, fields);
            } catch (err) {
              if (isCallgateError(err, ErrorCode.FORMAT)) {
                // An entry of a newer format is not skipped silently: every check that needs Redis blocks.
                this.#noteFormat(err);
                report(err);
              } else if (options.onMalformed === undefined) report(err);
              else options.onMalformed(id, err instanceof Error ? err : new Error(String(err)));
            }
            try {
              if (change !== null) onChange(change);
            } catch (err) {
              this.#noteFormat(err);
              report(err);
            }
            lastId = id;
          }
        } catch (err) {
          if (stopped) break;
          report(err);
          checkGap = true;
          backoff = Math.min(backoff === 0 ? 50 : backoff * 2, maxBackoffMs);
          await pause(backoff);
        }
      }
    };
    const running = loop();
    const stop = async (): Promise<void> => {
      stopped = true;
      this.#followers.delete(stop);
      wake?.();
      // Disconnecting rejects a pending XREAD BLOCK at once.
      (client as Client | null)?.disconnect();
      await running;
      (client as Client | null)?.disconnect();
    };
    this.#followers.add(stop);
    return stop;
  }

  /**
   * Adds check counts to per-minute hashes (HINCRBY; `set` fields are overwritten) with an expiry,
   * in one pipeline on the bulk connection: supervision must never delay a confirmation.
   */
  async addStats(entries: ReadonlyArray<{ readonly key: string; readonly incr: Readonly<Record<string, number>>; readonly set?: Readonly<Record<string, string>> }>, ttlMs: number): Promise<void> {
    const pipeline = this.#bulk.pipeline();
    for (const e of entries) {
      for (const [field, n] of Object.entries(e.incr)) if (n !== 0) pipeline.hincrby(e.key, field, n);
      if (e.set !== undefined && Object.keys(e.set).length > 0) pipeline.hset(e.key, e.set);
      pipeline.pexpire(e.key, ttlMs);
    }
    try {
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err !== null);
      if (failed) throw failed[0];
    } catch (err) {
      throw redisError('adding stats', err);
    }
  }

  /** Reads per-minute stats hashes (missing ones read as empty). */
  async readStats(keys: readonly string[]): Promise<Record<string, string>[]> {
    if (keys.length === 0) return [];
    const pipeline = this.#bulk.pipeline();
    for (const k of keys) pipeline.hgetall(k);
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      throw redisError('reading stats', err);
    }
    return (results ?? []).map(([err, v]) => (err === null && v !== null && typeof v === 'object' ? (v as Record<string, string>) : {}));
  }

  /**
   * Start-up refusal of a policy that can evict callgate's keys: only 'noeviction' is safe. 'volatile-*' is not:
   * refusals, attempt counts, heartbeats and locks carry TTLs, and losing a refusal or an attempt history allows
   * a call the rules forbid. Throws CALLGATE_ERR_REDIS_EVICTION unless allowEviction is set; even then, checks
   * that depend on Redis answer 'unconfirmed' once an eviction is counted (risk()). The policy is re-read at
   * every reconnection and every watchMs.
   */
  async checkEvictionPolicy(): Promise<void> {
    const policy = await this.#evictionPolicy();
    if (policy === 'noeviction') return;
    if (this.#allowEviction) return;
    throw new CallgateError(
      ErrorCode.REDIS_EVICTION,
      `Redis maxmemory-policy is ${JSON.stringify(policy)}: Redis may evict list members, refusals or attempt counts, and callgate would then allow calls it must block. ` +
        `Set maxmemory-policy to noeviction, or accept the risk with the allowEviction option (checks that need Redis then block once an eviction is seen).`,
    );
  }

  async #evictionPolicy(): Promise<string> {
    try {
      const reply: unknown = await this.#bulk.config('GET', 'maxmemory-policy');
      const flat: unknown[] = Array.isArray(reply) ? reply : reply instanceof Map ? [...reply].flat() : Object.entries(reply ?? {}).flat();
      const at = flat.indexOf('maxmemory-policy');
      const value = at >= 0 ? flat[at + 1] : undefined;
      if (typeof value === 'string') return value;
    } catch {
      // CONFIG is often disabled on managed Redis; INFO still tells.
    }
    try {
      const info = await this.#bulk.info('memory');
      const match = /^maxmemory_policy:(\S+)/m.exec(info);
      if (match?.[1]) return match[1];
    } catch (err) {
      throw redisError('reading maxmemory-policy', err);
    }
    throw new CallgateError(ErrorCode.REDIS_EVICTION, 'cannot read Redis maxmemory-policy (neither CONFIG GET nor INFO memory tell it)');
  }

  /**
   * Closes every connection (follow loops stopped, subscriber closed); held locks are released (best effort,
   * within 1 s: a stopping sidecar should not make the fleet wait for their expiry); pending commands are
   * abandoned (confirms read 'unconfirmed').
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchTimer);
    const releasing = Promise.all([...this.#locks].map((lock) => lock.release().catch(() => undefined)));
    await Promise.race([releasing, new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())]);
    this.#handlers.clear();
    this.#riskListeners.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    await Promise.all([
      ...[...this.#followers].map((stop) => stop()),
      subscriber === null ? Promise.resolve() : subscriber.then(quit, () => undefined),
      ...[this.#fast, this.#bulk].map((c) => quit(c)),
    ]);
    this.#setUp(false);
  }

  #setUp(up: boolean): void {
    if (up === this.#up) return;
    this.#up = up;
    this.#onStateChange?.(up ? 'up' : 'down');
  }
}

class FleetLock implements Lock {
  readonly name: string;
  readonly token: string;
  readonly ttlMs: number;
  readonly #client: Client;
  readonly #key: string;
  readonly #forget: (lock: FleetLock) => void;
  /** When the last successful SET/renewal was SENT: Redis's expiry is at least this + ttlMs. */
  #heldSince: number;
  #controller: AbortController | null = null;
  #onLost: ((err: CallgateError) => void) | undefined;
  #tick: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #renewing = false;
  #stopped = false;

  constructor(client: Client, key: string, name: string, token: string, ttlMs: number, heldSince: number, forget: (lock: FleetLock) => void) {
    this.#client = client;
    this.#key = key;
    this.name = name;
    this.token = token;
    this.ttlMs = ttlMs;
    this.#heldSince = heldSince;
    this.#forget = forget;
  }

  async renew(): Promise<boolean> {
    const sentAt = Date.now();
    let reply: unknown;
    try {
      reply = await this.#client.cgRenew(this.#key, this.token, this.ttlMs);
    } catch (err) {
      throw redisError(`renewing lock ${this.name}`, err);
    }
    if (reply !== 1) return false;
    this.#heldSince = Math.max(this.#heldSince, sentAt);
    this.#armDeadline();
    return true;
  }

  async release(): Promise<void> {
    this.stop();
    try {
      await this.#client.cgRelease(this.#key, this.token);
    } catch (err) {
      throw redisError(`releasing lock ${this.name}`, err);
    }
  }

  keepAlive(onLost?: (err: CallgateError) => void): AbortSignal {
    if (this.#controller !== null) return this.#controller.signal;
    this.#controller = new AbortController();
    this.#onLost = onLost;
    if (this.#stopped) return this.#controller.signal;
    const every = Math.max(1, Math.floor(this.ttlMs / 3));
    const tick = (): void => {
      if (this.#stopped || this.#renewing) return;
      this.#renewing = true;
      this.renew().then(
        (held) => {
          this.#renewing = false;
          if (!held) this.#lose(`lock ${this.name} was lost: another holder or expiry`);
        },
        () => {
          // Retried at the next tick; the deadline timer declares the loss when renewals fail too long.
          this.#renewing = false;
        },
      );
    };
    this.#tick = setInterval(tick, every);
    this.#tick.unref();
    this.#armDeadline();
    return this.#controller.signal;
  }

  /** Stops keep-alive timers without touching Redis. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#tick);
    clearTimeout(this.#deadline);
    this.#forget(this);
  }

  #armDeadline(): void {
    if (this.#controller === null || this.#stopped) return;
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(
      () => this.#lose(`lock ${this.name} not renewed within its ${this.ttlMs} ms TTL: it may have expired`),
      Math.max(0, this.#heldSince + this.ttlMs - Date.now()),
    );
    this.#deadline.unref();
  }

  #lose(message: string): void {
    if (this.#stopped) return;
    this.stop();
    const err = new CallgateError(ErrorCode.LOCK_LOST, message);
    this.#controller?.abort(err);
    this.#onLost?.(err);
  }
}

/** XREAD's reply for one stream as [id, flat fields] pairs; anything else reads as no entries. */
function streamEntries(reply: unknown): Array<[string, string[]]> {
  if (!Array.isArray(reply)) return [];
  const stream: unknown = reply[0];
  const entries: unknown = Array.isArray(stream) ? stream[1] : undefined;
  if (!Array.isArray(entries)) return [];
  const out: Array<[string, string[]]> = [];
  for (const entry of entries as unknown[]) {
    if (!Array.isArray(entry)) continue;
    const [id, fields] = entry as unknown[];
    if (typeof id === 'string') out.push([id, Array.isArray(fields) ? (fields as unknown[]).map(String) : []]);
  }
  return out;
}

/**
 * Whether entries after lastId may have been removed unread: returns the first entry id still held, else null.
 * XDEL raises max-deleted-entry-id, but trimming does not (Redis 7.0), so trimming is seen as entries-added
 * exceeding length while lastId is older than the first entry held. That can report a gap that is not one
 * (when trimming stopped exactly at lastId): a needless reseed, never a missed change. Redis < 7 lacks these
 * fields: no detection.
 */
async function trimmedAfter(client: Client, key: string, lastId: string): Promise<string | null> {
  let reply: unknown;
  try {
    reply = await client.xinfo('STREAM', key);
  } catch (err) {
    if (err instanceof Error && /no such key/i.test(err.message)) return null;
    throw err;
  }
  if (!Array.isArray(reply)) return null;
  const field = (name: string): unknown => {
    const at = reply.indexOf(name);
    return at >= 0 ? reply[at + 1] : undefined;
  };
  const maxDeleted = field('max-deleted-entry-id');
  const firstHeld = field('recorded-first-entry-id');
  const added = Number(field('entries-added'));
  const length = Number(field('length'));
  if (typeof firstHeld !== 'string' || !isStreamId(firstHeld)) return null;
  if (typeof maxDeleted === 'string' && isStreamId(maxDeleted) && compareStreamIds(lastId, maxDeleted) < 0) return firstHeld;
  if (added > length && firstHeld !== '0-0' && compareStreamIds(lastId, firstHeld) < 0) return firstHeld;
  return null;
}

/** The evicted_keys count accepted for this server run ('run_id:count'); another run's acceptance counts 0. */
function acceptedEvictions(ack: string, runId: string): number {
  const at = ack.lastIndexOf(':');
  if (at <= 0 || ack.slice(0, at) !== runId) return 0;
  const n = Number(ack.slice(at + 1));
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** A plan confirm() and decide() can use: a positive count (layout 1) or per-part counts (layout 2, from a marker). */
function validPlan(plan: BucketPlan): boolean {
  return typeof plan === 'number' ? Number.isSafeInteger(plan) && plan >= 1 : typeof plan === 'object' && plan !== null && plan.parts instanceof Map;
}

/** The scripts' bucket mode of an item: 'n' no bucket, 'e' the bucket must exist (layout 2), 'o' it may not. */
function bucketMode(plan: BucketPlan, buckets: number): string {
  return buckets === 0 ? 'n' : typeof plan === 'number' ? 'o' : 'e';
}

function parseConfirmReply(reply: unknown, n: number): Membership[] {
  const out = new Array<Membership>(n).fill('unconfirmed');
  if (!Array.isArray(reply) || reply.length !== n) return out;
  for (let i = 0; i < n; i++) {
    const v: unknown = reply[i];
    out[i] = v === 1 ? 'member' : v === 0 ? 'absent' : 'unconfirmed';
  }
  return out;
}

/** DECIDE_LUA's reply; null when malformed (read as not answered). */
const ANSWERS: Readonly<Record<number, AllowAnswer>> = { 1: 'member', 0: 'absent', [-1]: 'unconfirmed', 2: 'revoked', 3: 'expired' };

function parseDecideReply(reply: unknown, n: number): DecideFacts | null {
  if (!Array.isArray(reply) || reply.length !== 6 + 2 * n) return null;
  const all = reply as unknown[];
  const v = all.slice(0, 6 + n).map((x) => (typeof x === 'number' && Number.isSafeInteger(x) ? x : Number.NaN));
  const [now = Number.NaN, refusedAt = Number.NaN, refusedUntil = Number.NaN, attempts = Number.NaN, oldest = Number.NaN, counted = Number.NaN] = v;
  if (v.some(Number.isNaN)) return null;
  const memberships = new Array<AllowAnswer>(n);
  const terms = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const a = ANSWERS[v[6 + i] as number];
    const tv = all[6 + n + i];
    if (a === undefined || typeof tv !== 'string') return null;
    memberships[i] = a;
    terms[i] = tv === '' ? null : tv;
  }
  return {
    memberships,
    terms,
    refusedUntil: refusedUntil < 0 ? null : refusedUntil,
    refusedAt: refusedAt < 0 ? null : refusedAt,
    attempts,
    oldestAttemptAt: oldest < 0 ? null : oldest,
    counted: counted === 1,
    now,
    answered: true,
  };
}

async function quit(client: Client | null): Promise<void> {
  if (client === null) return;
  if (client.status === 'ready') {
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
    await Promise.race([client.quit().then(() => undefined, () => undefined), timeout]);
  }
  client.disconnect();
}

function whenReady(client: Client, timeoutMs: number, url: string): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined;
    const onError = (err: Error): void => {
      lastError = err;
    };
    const onReady = (): void => {
      clearTimeout(timer);
      client.off('error', onError);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      client.off('error', onError);
      reject(
        new CallgateError(ErrorCode.REDIS, `Redis at ${maskUrl(url)} not ready within ${timeoutMs} ms${lastError ? `: ${lastError.message}` : ''}`, {
          cause: lastError,
        }),
      );
    }, timeoutMs);
    client.once('ready', onReady);
    client.on('error', onError);
  });
}

function redisError(doing: string, err: unknown): CallgateError {
  if (err instanceof CallgateError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CallgateError(ErrorCode.REDIS, `Redis failed ${doing}: ${message}`, { cause: err });
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new CallgateError(ErrorCode.CONFIG, `${name} must be a positive integer, got ${String(value)}`);
  }
}

function positive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new CallgateError(ErrorCode.CONFIG, `${name} must be a positive number, got ${String(value)}`);
  }
}

/** Hides the password of a Redis URL in messages. */
function maskUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
