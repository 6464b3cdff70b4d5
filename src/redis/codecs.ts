/**
 * What callgate stores in Redis beyond bare members, and how it reads it back: generation markers, sidecar
 * in-use records, switch notices, change-stream entries, format versions and stream ids. Pure: no I/O.
 * Every decoder validates and throws (or returns null) on anything odd: a record we do not fully understand
 * must not be used to answer 'absent'.
 *
 * Format versions (the fleet upgrades one sidecar at a time): every stored format this build writes is
 * FORMAT_VERSION; a record without a version is format 1 (callgate before versioning). A reader accepts any
 * version <= FORMAT_VERSION and refuses a newer one with CALLGATE_ERR_FORMAT (decodeFormat): it blocks rather
 * than misread. Bump FORMAT_VERSION only for a change an older reader would misread.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { AllowRole, ListKind } from '../config/list-spec.js';
import { BUCKET_LAYOUT, bucketCount } from './bucketing.js';
import type { BucketPlan, PartBuckets } from './bucketing.js';
import { assertGenerationId, assertListName, isGenerationId, isListName } from './keys.js';

/**
 * The format of everything this build writes to Redis (key layout, markers, stream entries, scripts' view of
 * them). 1: before versioning (no version field). 2: per-part bucket counts in markers, a version in markers,
 * stream entries and the fleet key.
 */
export const FORMAT_VERSION = 2;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const STREAM_ID = /^\d+-\d+$/;

/** sha256 of zero bytes: the fingerprint of a generation that has no source file. */
export const EMPTY_FINGERPRINT = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

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
  if (!isListName(list)) throw bad(`list ${JSON.stringify(list)}`);
  const generation = str('generation');
  if (!isGenerationId(generation)) throw bad(`generation ${JSON.stringify(generation)}`);
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
    if (typeof l !== 'string' || typeof g !== 'string' || !isListName(l) || !isGenerationId(g)) throw bad();
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
  if (!isListName(list) || !isGenerationId(generation)) return null;
  return { type, list, generation };
}

/** An intraday key: E.164 digits as a positive safe integer (exact in a double, in Lua and in a ZSET member). */
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
  if (list === undefined || !isListName(list)) throw bad('list');
  if (op !== 'add' && op !== 'remove') throw bad('op');
  if (raw === undefined || !/^\d{1,16}(,\d{1,16})*$/.test(raw)) throw bad('keys');
  const keys = raw.split(',').map(Number);
  if (!keys.every((k) => Number.isSafeInteger(k) && k > 0)) throw bad('keys');
  if (who === undefined || who.length === 0) throw bad('who');
  if (at === undefined || !ISO_DATE.test(at)) throw bad('at');
  return { id, list, op, keys, who, at };
}

