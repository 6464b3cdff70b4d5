/**
 * Redis key layout and bucketing for callgate's Redis mode. Pure: no I/O.
 *
 * Per list NAME and generation GEN, under a prefix p (default 'callgate:'):
 *   {p}list:NAME:current        STRING  the current generation id
 *   {p}gen:NAME:GEN:marker      HASH    the generation marker (written last, deleted first)
 *   {p}gen:NAME:GEN:filter      STRING  the Bloom filter's binary form
 *   {p}gen:NAME:GEN:m:BUCKET    SET     integer members, compact intset encoding
 *   {p}lists                    SET     names of lists that have a current generation
 *   {p}list:NAME:gens           ZSET    every generation ever started (id → start ms), registered before its
 *                                       first member so that garbage collection finds interrupted loads
 *   {p}list:NAME:added          ZSET    intraday additions: E.164 digits → time added (ms, Redis clock)
 *   {p}changes                  STREAM  every intraday add/remove of every list, in order (fields: list, op,
 *                                       keys, who, at)
 *   {p}events                   channel pub/sub notices of generation switches (JSON)
 *   {p}sidecar:ID               STRING  JSON of the generations sidecar ID reads; expires unless heartbeated
 *   {p}sidecars                 ZSET    sidecar id → last heartbeat (ms)
 *   {p}lock:NAME                STRING  a fleet lock's random token, with a TTL
 *   {p}refused:KEY              STRING  when consumer KEY (E.164 digits) last refused during a call (ms, Redis
 *                                       clock); expires when the no-call period ends, so its PTTL tells when
 *   {p}stats:MINUTE:WHO         HASH    check counts of one minute, per sidecar id and for 'fleet'; with a TTL
 *   {p}attempts:KEY             ZSET    consumer KEY's calls and attempts within the frequency window: member
 *                                       `${ms}-${random}` → time (ms, Redis clock); older ones are removed at
 *                                       each check and the whole key expires one window after the last attempt
 *
 *   {p}format                   STRING  the highest format version (FORMAT_VERSION) any writer of the fleet uses;
 *                                       raised, never lowered, by every store at connect and at each watch
 *   {p}evictions:ack            STRING  `${run_id}:${evicted_keys}`: evictions an operator accepted (accept-evictions)
 *
 * A key k (E.164 digits as an integer) is stored as member k % 1e9 in bucket `${P}.${mix32(k % 1e9) % B}` of its
 * part P = floor(k / 1e9) (the calling code and leading digits). The member fits int32, so Redis keeps each
 * bucket as an intset of 4-byte entries. Layout 2 (format 2): each part present in the generation has its own
 * B_P = ceil(count_P / 200), recorded in the marker, and every one of its buckets is written (an empty one holds
 * the placeholder -1, never a member), so a missing bucket means lost data, never "absent". Layout 1 (format 1,
 * read only): one B = ceil(count / 200) for every part; a small part's buckets may legitimately be missing.
 * ~200 members a bucket stays well under the 512 at which Redis converts a set to a hash table
 * (set-max-intset-entries), which costs ~4x the memory.
 * (bucket, member) determines k: floor(k / 1e9) is in the bucket id and k % 1e9 is the member.
 *
 * Format versions (the fleet upgrades one sidecar at a time): every stored format this build writes is
 * FORMAT_VERSION; a record without a version is format 1 (callgate before versioning). A reader accepts any
 * version <= FORMAT_VERSION and refuses a newer one with CALLGATE_ERR_FORMAT (decodeFormat): it blocks rather
 * than misread. Bump FORMAT_VERSION only for a change an older reader would misread.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { NumberKey } from '../numbers/number-key.js';
import type { AllowRole, ListKind } from '../config/list-spec.js';
import { DAY_MS, HOUR_MS } from '../core/time.js';

export const DEFAULT_PREFIX = 'callgate:';

/** Bump when memberOf / bucketIdOf change: old generations would otherwise read 'absent' for members. */
export const BUCKET_LAYOUT = 2;

/**
 * The format of everything this build writes to Redis (key layout, markers, stream entries, scripts' view of
 * them). 1: before versioning (no version field). 2: per-part bucket counts in markers, a version in markers,
 * stream entries and the fleet key.
 */
export const FORMAT_VERSION = 2;

/** The placeholder member of a bucket that has no number: never a member (members are >= 0). */
export const EMPTY_BUCKET_MEMBER = -1;

export const MEMBER_MODULUS = 1e9;
export const TARGET_BUCKET_SIZE = 200;
/** Redis's default set-max-intset-entries: past it a bucket converts to a hash table. */
export const MAX_INTSET_ENTRIES = 512;

const LIST_NAME = /^[a-z][a-z0-9_-]*$/;
// No glob characters (*?[]\) so that generation ids are safe inside SCAN MATCH patterns.
const GENERATION_ID = /^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
// Pod names, host names, UUIDs; no glob characters or whitespace.
const INSTANCE_ID = /^[0-9A-Za-z][0-9A-Za-z_.:-]{0,127}$/;
const STREAM_ID = /^\d+-\d+$/;
const MAX_WHO_LENGTH = 200;

/** sha256 of zero bytes: the fingerprint of a generation that has no source file. */
export const EMPTY_FINGERPRINT = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';


/** Layout 2: bucket counts per part (floor(key / 1e9)); a part not in `parts` has no number in the generation. */
export interface PartBuckets {
  /** Sum of the parts' counts: the number of bucket keys. */
  readonly total: number;
  readonly parts: ReadonlyMap<number, number>;
}

/** How a generation's members are bucketed: one count for every part (layout 1) or a count per part (layout 2). */
export type BucketPlan = number | PartBuckets;

/**
 * Reads a stored format version: absent (null, undefined, '') is format 1; a newer version than this build's
 * throws CALLGATE_ERR_FORMAT, and so does anything that is not a version (it may be a newer encoding).
 */
export function decodeFormat(raw: string | null | undefined, what: string): number {
  if (raw === null || raw === undefined || raw === '') return 1;
  const v = /^[1-9]\d{0,8}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(v <= FORMAT_VERSION)) {
    throw new CallgateError(
      ErrorCode.FORMAT,
      `${what} has format ${JSON.stringify(raw.slice(0, 40))}, newer than this build reads (${FORMAT_VERSION}): upgrade this sidecar`,
    );
  }
  return v;
}

/** What a generation holds; stored as a Redis HASH, every field a string. */
export interface GenerationMarker {
  readonly list: string;
  readonly kind: ListKind;
  /** Allow-lists: what they prove. Absent in markers written before it was recorded (then unknown). */
  readonly role?: AllowRole | undefined;
  readonly generation: string;
  /** Number of keys. */
  readonly count: number;
  readonly normaliserVersion: string;
  /** Identity of the Bloom filter's hashing: a filter built with another hashing is unusable. */
  readonly hashId: string;
  /** sha256 (hex) of the source list. */
  readonly fingerprint: string;
  /** Date of the source list (ISO), when known. */
  readonly sourceDate?: string | undefined;
  /** Layout 1: the one bucket count; layout 2: counts per part. */
  readonly buckets: BucketPlan;
  /** ISO timestamp. */
  readonly createdAt: string;
  readonly filterBytes: number;
  /** BUCKET_LAYOUT the members were written with: 1 or 2. */
  readonly layout: number;
  /** FORMAT_VERSION of the writer (1 when the marker has none). */
  readonly format: number;
}

export function isListName(name: string): boolean {
  return LIST_NAME.test(name);
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

/** lowbias32 (C. Wellons, "Prospecting for hash functions"): a good 32-bit integer mix. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

export function bucketCount(count: number): number {
  return Math.max(1, Math.ceil(count / TARGET_BUCKET_SIZE));
}

/** Layout 2's plan for sorted keys: each part gets bucketCount(its own count). */
export function planBuckets(sortedKeys: ArrayLike<number>): PartBuckets {
  const parts = new Map<number, number>();
  let total = 0;
  let start = 0;
  while (start < sortedKeys.length) {
    const high = highOf(sortedKeys[start] as number);
    let end = start + 1;
    while (end < sortedKeys.length && highOf(sortedKeys[end] as number) === high) end++;
    const b = bucketCount(end - start);
    parts.set(high, (parts.get(high) ?? 0) + b);
    total += b;
    start = end;
  }
  return { total, parts };
}

/** The bucket count of a key's part under a plan; 0 when the part has no number (no bucket to read). */
export function bucketsOfPart(plan: BucketPlan, high: number): number {
  return typeof plan === 'number' ? plan : plan.parts.get(high) ?? 0;
}

/** The member of a key inside its bucket: below 1e9 < 2^31, so an int32 intset entry. */
export function memberOf(key: NumberKey): number {
  return key % MEMBER_MODULUS;
}

/** The high part of a key. Subtracting first keeps it exact: key / 1e9 alone can round up to the next integer. */
export function highOf(key: NumberKey): number {
  return (key - (key % MEMBER_MODULUS)) / MEMBER_MODULUS;
}

export function bucketIndexOf(member: number, buckets: number): number {
  return mix32(member) % buckets;
}

export function bucketIdOf(key: NumberKey, buckets: number): string {
  return `${highOf(key)}.${bucketIndexOf(memberOf(key), buckets)}`;
}

/** Inverse of (bucketIdOf, memberOf): the key a (bucket, member) pair stands for. */
export function keyOf(bucketId: string, member: number): NumberKey {
  const dot = bucketId.indexOf('.');
  return Number(bucketId.slice(0, dot)) * MEMBER_MODULUS + member;
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

export function isStreamId(id: string): boolean {
  return STREAM_ID.test(id);
}

/** Orders two stream ids ('ms-seq'); both parts can exceed 2^53, so compare as digit strings. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  return compareDigits(am, bm) || compareDigits(as, bs);
}

function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
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
  return `${prefix}refused:${key}`;
}

/** The consumer's attempt times within the frequency window. */
export function attemptsKey(prefix: string, key: NumberKey): string {
  assertConsumerKey(key);
  return `${prefix}attempts:${key}`;
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

export function encodeMarker(marker: GenerationMarker): Record<string, string> {
  const plan = marker.buckets;
  const fields: Record<string, string> = {
    list: marker.list,
    kind: marker.kind,
    generation: marker.generation,
    count: String(marker.count),
    normaliserVersion: marker.normaliserVersion,
    hashId: marker.hashId,
    fingerprint: marker.fingerprint,
    buckets: String(typeof plan === 'number' ? plan : plan.total),
    createdAt: marker.createdAt,
    filterBytes: String(marker.filterBytes),
    layout: String(marker.layout),
  };
  // Format 1 had no version field: writing none keeps a format-1 marker byte-identical.
  if (marker.format > 1) fields['format'] = String(marker.format);
  if (typeof plan !== 'number') fields['parts'] = [...plan.parts].sort((a, b) => a[0] - b[0]).map(([h, b]) => `${h}:${b}`).join(',');
  if (marker.sourceDate !== undefined) fields['sourceDate'] = marker.sourceDate;
  if (marker.role !== undefined) fields['role'] = marker.role;
  return fields;
}

/** Layout 2's `parts` field: `high:buckets` pairs, ascending, comma-separated ('' for an empty generation). */
function decodeParts(raw: string, total: number, count: number): PartBuckets | string {
  const parts = new Map<number, number>();
  let sum = 0;
  let previous = -1;
  for (const pair of raw === '' ? [] : raw.split(',')) {
    const m = /^(\d{1,7}):([1-9]\d{0,8})$/.exec(pair);
    if (m === null) return `part ${JSON.stringify(pair.slice(0, 40))}`;
    const high = Number(m[1]);
    const b = Number(m[2]);
    if (high <= previous) return 'parts must ascend';
    previous = high;
    parts.set(high, b);
    sum += b;
  }
  if (sum !== total) return `parts sum to ${sum} buckets, not ${total}`;
  // Each part has at least one number, and at most bucketCount(count) buckets are needed for count numbers.
  if (parts.size > count || sum > bucketCount(count) + parts.size) return `parts do not fit count ${count}`;
  return { total, parts };
}

/**
 * Validates a marker read from Redis. Anything odd throws: a marker we do not fully understand must not be
 * used to answer 'absent' (a wrong layout would turn members into non-members).
 */
export function decodeMarker(fields: Readonly<Record<string, string>>, expected?: { list: string; generation: string }): GenerationMarker {
  const bad = (what: string): CallgateError =>
    new CallgateError(ErrorCode.REDIS, `invalid generation marker${expected ? ` ${expected.list}/${expected.generation}` : ''}: ${what}`);
  const str = (name: string): string => {
    const v = fields[name];
    if (v === undefined || v.length === 0) throw bad(`missing field ${name}`);
    return v;
  };
  const int = (name: string, min: number): number => {
    const raw = str(name);
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min) throw bad(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  // First: a newer marker may differ in any field below, and must read as 'too new', not as 'invalid'.
  const format = decodeFormat(fields['format'], `generation marker${expected ? ` ${expected.list}/${expected.generation}` : ''}`);
  const list = str('list');
  if (!LIST_NAME.test(list)) throw bad(`list ${JSON.stringify(list)}`);
  const generation = str('generation');
  if (!GENERATION_ID.test(generation)) throw bad(`generation ${JSON.stringify(generation)}`);
  if (expected && (expected.list !== list || expected.generation !== generation)) {
    throw bad(`names ${list}/${generation}`);
  }
  const kind = str('kind');
  if (kind !== 'deny' && kind !== 'allow') throw bad(`kind must be deny or allow, got ${JSON.stringify(kind)}`);
  const count = int('count', 0);
  const layoutRaw = str('layout');
  if (/^\d+$/.test(layoutRaw) && Number(layoutRaw) > BUCKET_LAYOUT) {
    throw new CallgateError(ErrorCode.FORMAT, `generation marker ${list}/${generation} has bucket layout ${layoutRaw}, newer than this build reads (${BUCKET_LAYOUT})`);
  }
  const layout = int('layout', 1);
  let buckets: BucketPlan;
  if (layout === 1) {
    buckets = int('buckets', 1);
    if (buckets !== bucketCount(count)) throw bad(`buckets ${buckets} does not match count ${count}`);
  } else {
    const parts = fields['parts'];
    if (parts === undefined) throw bad('missing field parts');
    const plan = decodeParts(parts, int('buckets', 0), count);
    if (typeof plan === 'string') throw bad(plan);
    buckets = plan;
  }
  const fingerprint = str('fingerprint');
  if (!SHA256_HEX.test(fingerprint)) throw bad('fingerprint must be a sha256 in lowercase hex');
  const createdAt = str('createdAt');
  if (!ISO_DATE.test(createdAt)) throw bad(`createdAt ${JSON.stringify(createdAt)}`);
  const sourceDate = fields['sourceDate'];
  if (sourceDate !== undefined && !ISO_DATE.test(sourceDate)) throw bad(`sourceDate ${JSON.stringify(sourceDate)}`);
  const role = fields['role'];
  if (role !== undefined && (kind !== 'allow' || (role !== 'consent' && role !== 'contract'))) throw bad(`role ${JSON.stringify(role)} for a ${kind}-list`);
  return {
    list,
    kind,
    ...(role === undefined ? {} : { role }),
    generation,
    count,
    normaliserVersion: str('normaliserVersion'),
    hashId: str('hashId'),
    fingerprint,
    sourceDate,
    buckets,
    createdAt,
    filterBytes: int('filterBytes', 0),
    layout,
    format,
  };
}

/** A generation a sidecar reads. */
export interface InUse {
  readonly list: string;
  readonly generation: string;
}

export function encodeInUse(inUse: readonly InUse[]): string {
  for (const u of inUse) {
    assertListName(u.list);
    assertGenerationId(u.generation);
  }
  return JSON.stringify({ inUse: inUse.map((u) => ({ list: u.list, generation: u.generation })) });
}

/** Throws on anything odd: garbage collection must not guess what a live sidecar reads. */
export function decodeInUse(text: string): InUse[] {
  const bad = (): CallgateError => new CallgateError(ErrorCode.REDIS, `invalid sidecar record ${JSON.stringify(text.slice(0, 200))}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad();
  }
  const list: unknown = typeof parsed === 'object' && parsed !== null ? (parsed as { inUse?: unknown }).inUse : undefined;
  if (!Array.isArray(list)) throw bad();
  return list.map((u: unknown) => {
    const l: unknown = typeof u === 'object' && u !== null ? (u as { list?: unknown }).list : undefined;
    const g: unknown = typeof u === 'object' && u !== null ? (u as { generation?: unknown }).generation : undefined;
    if (typeof l !== 'string' || typeof g !== 'string' || !LIST_NAME.test(l) || !GENERATION_ID.test(g)) throw bad();
    return { list: l, generation: g };
  });
}

/** A notice on the events channel. */
export interface SwitchEvent {
  readonly type: 'switch';
  readonly list: string;
  readonly generation: string;
}

export function encodeSwitchEvent(list: string, generation: string): string {
  return JSON.stringify({ type: 'switch', list, generation });
}

/** Null for anything that is not a well-formed notice (other publishers, newer versions). */
export function decodeEvent(text: string): SwitchEvent | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { type, list, generation } = parsed as { type?: unknown; list?: unknown; generation?: unknown };
  if (type !== 'switch' || typeof list !== 'string' || typeof generation !== 'string') return null;
  if (!LIST_NAME.test(list) || !GENERATION_ID.test(generation)) return null;
  return { type, list, generation };
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

export type ChangeOp = 'add' | 'remove';

/** One entry of the changes stream. */
export interface Change {
  /** Stream id ('ms-seq'). */
  readonly id: string;
  readonly list: string;
  readonly op: ChangeOp;
  readonly keys: number[];
  readonly who: string;
  /** ISO timestamp, Redis clock. */
  readonly at: string;
}

/** The field of a stream entry (and of nothing else) that holds its format; absent: format 1. */
export const CHANGE_FORMAT_FIELD = 'format';

/**
 * Parses a stream entry's flat field list; throws CALLGATE_ERR_FORMAT for an entry of a newer format (checked
 * first: its other fields may mean something else) and CALLGATE_ERR_REDIS on anything odd.
 */
export function decodeChange(id: string, flat: readonly string[]): Change {
  const bad = (what: string): CallgateError => new CallgateError(ErrorCode.REDIS, `invalid change ${id}: ${what}`);
  if (!STREAM_ID.test(id)) throw bad('id');
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i] as string, flat[i + 1] as string);
  decodeFormat(fields.get(CHANGE_FORMAT_FIELD), `change ${id}`);
  const list = fields.get('list');
  const op = fields.get('op');
  const raw = fields.get('keys');
  const who = fields.get('who');
  const at = fields.get('at');
  if (list === undefined || !LIST_NAME.test(list)) throw bad('list');
  if (op !== 'add' && op !== 'remove') throw bad('op');
  if (raw === undefined || !/^\d{1,16}(,\d{1,16})*$/.test(raw)) throw bad('keys');
  const keys = raw.split(',').map(Number);
  if (!keys.every((k) => Number.isSafeInteger(k) && k > 0)) throw bad('keys');
  if (who === undefined || who.length === 0) throw bad('who');
  if (at === undefined || !ISO_DATE.test(at)) throw bad('at');
  return { id, list, op, keys, who, at };
}

/**
 * The fleet epoch: a random id written (SET NX) with the first generation under this prefix. A sidecar
 * remembers it on disk; finding it gone or changed means Redis lost its data (restart without persistence,
 * FLUSHALL), and the fleet's opt-outs must be re-published from the sidecars' copies.
 */
export function epochKey(prefix: string): string {
  return `${prefix}epoch`;
}
