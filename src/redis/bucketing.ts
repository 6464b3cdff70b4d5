/**
 * How callgate's Redis mode buckets list members: a key k (E.164 digits as an integer) is stored as member
 * k % 1e9 in bucket `${P}.${mix32(k % 1e9) % B}` of its part P = floor(k / 1e9) (the calling code and leading
 * digits). Pure: no I/O. Key names: redis/keys.ts; the marker that records a generation's plan: redis/codecs.ts.
 *
 * The member fits int32, so Redis keeps each bucket as an intset of 4-byte entries. Layout 2 (format 2): each
 * part present in the generation has its own B_P = ceil(count_P / 200), recorded in the marker, and every one
 * of its buckets is written (an empty one holds the placeholder -1, never a member), so a missing bucket means
 * lost data, never "absent". Layout 1 (format 1, read only): one B = ceil(count / 200) for every part; a small
 * part's buckets may legitimately be missing. ~200 members a bucket stays well under the 512 at which Redis
 * converts a set to a hash table (set-max-intset-entries), which costs ~4x the memory.
 * (bucket, member) determines k: floor(k / 1e9) is in the bucket id and k % 1e9 is the member.
 */
import type { NumberKey } from '../numbers/number-key.js';

/** Bump when memberOf / bucketIdOf change: old generations would otherwise read 'absent' for members. */
export const BUCKET_LAYOUT = 2;

/** The placeholder member of a bucket that has no number: never a member (members are >= 0). */
export const EMPTY_BUCKET_MEMBER = -1;

export const MEMBER_MODULUS = 1e9;
export const TARGET_BUCKET_SIZE = 200;
/** Redis's default set-max-intset-entries: past it a bucket converts to a hash table. */
export const MAX_INTSET_ENTRIES = 512;

/** Layout 2: bucket counts per part (floor(key / 1e9)); a part not in `parts` has no number in the generation. */
export interface PartBuckets {
  /** Sum of the parts' counts: the number of bucket keys. */
  readonly total: number;
  readonly parts: ReadonlyMap<number, number>;
}

/** How a generation's members are bucketed: one count for every part (layout 1) or a count per part (layout 2). */
export type BucketPlan = number | PartBuckets;

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

/** A plan confirm() and decide() can use: a positive count (layout 1) or per-part counts (layout 2, from a marker). */
export function validPlan(plan: BucketPlan): boolean {
  return typeof plan === 'number' ? Number.isSafeInteger(plan) && plan >= 1 : typeof plan === 'object' && plan !== null && plan.parts instanceof Map;
}
