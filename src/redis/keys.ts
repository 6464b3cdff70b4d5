/**
 * Redis key names for callgate's Redis mode, the one table of the key layout, and the validators of the names
 * that go into keys. Pure: no I/O. How members are bucketed: redis/bucketing.ts; what the values hold and how
 * they are decoded: redis/codecs.ts. Lua scripts receive these names as KEYS (redis/lua/*.lua headers).
 *
 * Per list NAME and generation GEN, under a prefix p (default 'callgate:'):
 *   {p}list:NAME:current        STRING  the current generation id
 *   {p}gen:NAME:GEN:marker      HASH    the generation marker (written last, deleted first)
 *   {p}gen:NAME:GEN:filter      STRING  the Bloom filter's binary form
 *   {p}gen:NAME:GEN:m:BUCKET    SET     integer members, compact intset encoding (BUCKET: redis/bucketing.ts)
 *   {p}gen:NAME:GEN:terms       HASH    consent lists: E.164 digits → stored consent terms (rules/consent-terms.ts)
 *   {p}lists                    SET     names of lists that have a current generation
 *   {p}list:NAME:gens           ZSET    every generation ever started (id → start ms), registered before its
 *                                       first member so that garbage collection finds interrupted loads
 *   {p}list:NAME:added          ZSET    intraday additions: E.164 digits → time added (ms, Redis clock)
 *   {p}list:NAME:revoked        ZSET    allow-lists: E.164 digits → when withdrawn during the day (ms, Redis
 *                                       clock); kept across generations until a later consent lifts it
 *   {p}changes                  STREAM  every intraday add/remove of every list, in order (fields: list, op,
 *                                       keys, who, at, format)
 *   {p}events                   channel pub/sub notices of generation switches (JSON)
 *   {p}sidecar:ID               STRING  JSON of the generations sidecar ID reads; expires unless heartbeated
 *   {p}sidecars                 ZSET    sidecar id → last heartbeat (ms)
 *   {p}lock:NAME                STRING  a fleet lock's random token, with a TTL
 *   {p}refused:KEY              STRING  when consumer KEY (E.164 digits) last refused during a call (ms, Redis
 *                                       clock); expires when the no-call period ends, so its PTTL tells when
 *   {p}attempts:KEY             ZSET    consumer KEY's calls and attempts within the frequency window: member
 *                                       `${ms}-${random}` → time (ms, Redis clock); older ones are removed at
 *                                       each check and the whole key expires one window after the last attempt
 *   {p}stats:MINUTE:WHO         HASH    check counts of one minute, per sidecar id and for 'fleet'; with a TTL
 *   {p}stats10s:SLOT:WHO        HASH    check counts of one 10-second slot (the last minute's sliding window)
 *   {p}epoch                    STRING  the fleet epoch: a random id written with the first generation; its loss
 *                                       tells sidecars that Redis lost its data
 *   {p}format                   STRING  the highest format version (FORMAT_VERSION) any writer of the fleet uses;
 *                                       raised, never lowered, by every store at connect and at each watch
 *   {p}evictions:ack            STRING  `${run_id}:${evicted_keys}`: evictions an operator accepted (accept-evictions)
 *   {p}wait                     STRING  a counter INCRed before each WAIT (redis/durability.ts): the write whose
 *                                       offset WAIT waits for; its value means nothing and nothing reads it
 *
 * The stored formats (FORMAT_VERSION) are described in redis/codecs.ts.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { NumberKey } from '../numbers/number-key.js';
import { DAY_MS, HOUR_MS } from '../core/time.js';

export const DEFAULT_PREFIX = 'callgate:';

const LIST_NAME = /^[a-z][a-z0-9_-]*$/;
// No glob characters (*?[]\) so that generation ids are safe inside SCAN MATCH patterns.
const GENERATION_ID = /^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/;
// Pod names, host names, UUIDs; no glob characters or whitespace.
const INSTANCE_ID = /^[0-9A-Za-z][0-9A-Za-z_.:-]{0,127}$/;
const MAX_WHO_LENGTH = 200;

export function isListName(name: string): boolean {
  return LIST_NAME.test(name);
}

export function isGenerationId(generation: string): boolean {
  return GENERATION_ID.test(generation);
}

export function assertListName(name: string): void {
  if (!LIST_NAME.test(name)) {
    throw new CallgateError(ErrorCode.LIST_NAME, `list name must match ${LIST_NAME.source}, got ${JSON.stringify(name)}`);
  }
}

export function assertGenerationId(generation: string): void {
  if (!GENERATION_ID.test(generation)) {
    throw new CallgateError(
      ErrorCode.REDIS,
      `generation id must match ${GENERATION_ID.source}, got ${JSON.stringify(generation)}`,
    );
  }
}

export function assertPrefix(prefix: string): void {
  // Empty would mix callgate keys with anything else in the database; whitespace breaks redis-cli use.
  if (prefix.length === 0 || prefix.length > 100 || /\s/.test(prefix)) {
    throw new CallgateError(
      ErrorCode.CONFIG,
      `Redis key prefix must be 1-100 characters without whitespace, got ${JSON.stringify(prefix)}`,
    );
  }
}


export function assertInstanceId(id: string): void {
  if (!INSTANCE_ID.test(id)) {
    throw new CallgateError(ErrorCode.CONFIG, `instance id must match ${INSTANCE_ID.source}, got ${JSON.stringify(id)}`);
  }
}

/** Lock names follow instance ids' rules, so 'refresh:bloctel' is one. */
export function assertLockName(name: string): void {
  if (!INSTANCE_ID.test(name)) {
    throw new CallgateError(ErrorCode.CONFIG, `lock name must match ${INSTANCE_ID.source}, got ${JSON.stringify(name)}`);
  }
}

export function listsKey(prefix: string): string {
  return `${prefix}lists`;
}

export function pointerKey(prefix: string, list: string): string {
  return `${prefix}list:${list}:current`;
}

export function gensKey(prefix: string, list: string): string {
  return `${prefix}list:${list}:gens`;
}

export function addedKey(prefix: string, list: string): string {
  return `${prefix}list:${list}:added`;
}

/**
 * Allow-lists: numbers withdrawn from the list during the day (a consent revoked, a contract ended), member
 * → when (ms, Redis clock). Kept across generations: a revocation outlives the file that listed the number
 * until a consent dated after it (a newer file's consented_at, or `list add`) replaces it.
 */
export function revokedKey(prefix: string, list: string): string {
  return `${prefix}list:${list}:revoked`;
}

export function changesKey(prefix: string): string {
  return `${prefix}changes`;
}

export function eventsChannel(prefix: string): string {
  return `${prefix}events`;
}

export function sidecarKey(prefix: string, id: string): string {
  return `${prefix}sidecar:${id}`;
}

export function sidecarsKey(prefix: string): string {
  return `${prefix}sidecars`;
}

/** The fleet's format version (FORMAT_VERSION of its newest writer). */
export function formatKey(prefix: string): string {
  return `${prefix}format`;
}

/** Evictions an operator accepted: `${run_id}:${evicted_keys}` of the Redis server at that time. */
export function evictionsAckKey(prefix: string): string {
  return `${prefix}evictions:ack`;
}

export function lockKey(prefix: string, name: string): string {
  return `${prefix}lock:${name}`;
}

/** A consumer key for the calling rules: E.164 digits as a positive safe integer, printed as plain digits. */
export function assertConsumerKey(key: number): void {
  if (!Number.isSafeInteger(key) || key <= 0) {
    throw new CallgateError(ErrorCode.BAD_REQUEST, `consumer key must be a positive safe integer, got ${String(key)}`);
  }
}


/**
 * How long a refusal key lives: (refusalDays + 1) days + 1 hour. The policy ends the no-call period at the start
 * of the consumer's local day refusalDays + 1 days after the refusal's (rules/policy.ts refusalEndsAt), which is at most
 * (refusalDays + 1) × 24 h + 1 h (one DST hour) after the refusal in any time zone: the key never expires first.
 */
export function refusalTtlMs(refusalDays: number): number {
  if (!Number.isSafeInteger(refusalDays) || refusalDays < 1) {
    throw new CallgateError(ErrorCode.CONFIG, `refusalDays must be an integer >= 1, got ${String(refusalDays)}`);
  }
  return (refusalDays + 1) * DAY_MS + HOUR_MS;
}

/** When the consumer last refused during a call; the key expires at the end of the no-call period. */
export function refusedKey(prefix: string, key: NumberKey): string {
  assertConsumerKey(key);
  return `${refusedKeyBase(prefix)}${key}`;
}

/** refusedKey without the consumer: the hot path appends a key it has checked already (redis/confirm.ts). */
export function refusedKeyBase(prefix: string): string {
  return `${prefix}refused:`;
}

/** The consumer's attempt times within the frequency window. */
export function attemptsKey(prefix: string, key: NumberKey): string {
  assertConsumerKey(key);
  return `${attemptsKeyBase(prefix)}${key}`;
}

/** attemptsKey without the consumer (as refusedKeyBase). */
export function attemptsKeyBase(prefix: string): string {
  return `${prefix}attempts:`;
}

/** Check counts of one minute: per sidecar (`who` = its instance id) and for the whole fleet (`who` = 'fleet'). */
export function statsKey(prefix: string, minuteMs: number, who: string): string {
  return `${prefix}stats:${minuteMs}:${who}`;
}

/** Check counts of one 10-second slot (the last minute's sliding window), per sidecar and for the fleet; short-lived. */
export function statsSlotKey(prefix: string, slotMs: number, who: string): string {
  return `${prefix}stats10s:${slotMs}:${who}`;
}

export function generationBase(prefix: string, list: string, generation: string): string {
  return `${prefix}gen:${list}:${generation}:`;
}

export function markerKey(prefix: string, list: string, generation: string): string {
  return `${generationBase(prefix, list, generation)}marker`;
}

export function filterKey(prefix: string, list: string, generation: string): string {
  return `${generationBase(prefix, list, generation)}filter`;
}

/** Consent lists: number digits → stored consent terms (rules/consent-terms.ts), one hash per generation. */
export function termsKey(prefix: string, list: string, generation: string): string {
  return `${generationBase(prefix, list, generation)}terms`;
}

export function bucketKey(prefix: string, list: string, generation: string, bucketId: string): string {
  return `${generationBase(prefix, list, generation)}m:${bucketId}`;
}

/** A SCAN MATCH pattern for every bucket of a generation; the prefix is escaped as it may hold glob characters. */
export function bucketPattern(prefix: string, list: string, generation: string): string {
  return `${escapeGlob(generationBase(prefix, list, generation))}m:*`;
}

export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** An intraday key: E.164 digits as a positive safe integer (exact in a double, in Lua and in a ZSET member). */
export function assertIntradayKeys(keys: readonly number[]): void {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as number;
    if (!Number.isSafeInteger(k) || k <= 0) {
      throw new CallgateError(ErrorCode.BAD_REQUEST, `intraday key ${i} must be a positive safe integer, got ${String(k)}`);
    }
  }
}

/** Who made a change, for the audit trail; no control characters so the stream entry stays one plain line. */
export function assertWho(who: string): void {
  if (who.length === 0 || who.length > MAX_WHO_LENGTH || /[\u0000-\u001f\u007f]/.test(who)) {
    throw new CallgateError(ErrorCode.BAD_REQUEST, `who must be 1-${MAX_WHO_LENGTH} printable characters, got ${JSON.stringify(who)}`);
  }
}


/**
 * The fleet epoch: a random id written (SET NX) with the first generation under this prefix. A sidecar
 * remembers it on disk; finding it gone or changed means Redis lost its data (restart without persistence,
 * FLUSHALL), and the fleet's opt-outs must be re-published from the sidecars' copies.
 */
export function epochKey(prefix: string): string {
  return `${prefix}epoch`;
}

export function waitKey(prefix: string): string {
  return `${prefix}wait`;
}
