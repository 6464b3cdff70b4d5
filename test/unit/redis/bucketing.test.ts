/**
 * Bucketing (src/redis/bucketing.ts): bucket sizes, the exact split of a key into part and member, the
 * (bucket, member) ↔ key bijection, and the spread of real numbering plans across buckets.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bucketCount, bucketIdOf, highOf, keyOf, MAX_INTSET_ENTRIES, memberOf, mix32 } from '../../../src/redis/bucketing.js';

const MAX_KEY = 999_999_999_999_999; // 15 digits, the E.164 maximum

describe('bucketing', () => {
  it('sizes buckets near 200', () => {
    expect(bucketCount(0)).toBe(1);
    expect(bucketCount(1)).toBe(1);
    expect(bucketCount(200)).toBe(1);
    expect(bucketCount(201)).toBe(2);
    expect(bucketCount(12_000_000)).toBe(60_000);
  });

  it('splits keys exactly, even at the 15-digit edge', () => {
    for (const key of [0, 1, 999_999_999, 1_000_000_000, 33_612_345_678, 999_999_999_999_999, 8_999_999_999_999, 5_999_999_999_999]) {
      expect(highOf(key) * 1e9 + memberOf(key)).toBe(key);
      expect(Number.isInteger(highOf(key))).toBe(true);
      expect(memberOf(key)).toBeLessThan(2 ** 31);
    }
    expect(highOf(999_999_999_999_999)).toBe(999_999);
    expect(memberOf(999_999_999_999_999)).toBe(999_999_999);
  });

  it('is a bijection: (bucket, member) gives the key back, different keys never share both', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_KEY }),
        fc.integer({ min: 0, max: MAX_KEY }),
        fc.integer({ min: 1, max: 100_000 }),
        (a, b, buckets) => {
          const ba = bucketIdOf(a, buckets);
          expect(keyOf(ba, memberOf(a))).toBe(a);
          if (a !== b) expect(ba === bucketIdOf(b, buckets) && memberOf(a) === memberOf(b)).toBe(false);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('keeps buckets of French mobile numbers far under 512', () => {
    const count = 200_000;
    const buckets = bucketCount(count);
    const sizes = new Map<string, number>();
    let x = 12345;
    const seen = new Set<number>();
    while (seen.size < count) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      seen.add(33_600_000_000 + (x % 200_000_000)); // +336 and +337 blocks
    }
    for (const key of seen) {
      const id = bucketIdOf(key, buckets);
      sizes.set(id, (sizes.get(id) ?? 0) + 1);
    }
    const max = Math.max(...sizes.values());
    expect(max).toBeLessThan(300);
    expect(max).toBeLessThanOrEqual(MAX_INTSET_ENTRIES);
    expect(sizes.size).toBe(buckets);
  });

  it('mixes sequential members across buckets', () => {
    const hits = new Uint32Array(10);
    for (let m = 0; m < 10_000; m++) (hits[mix32(m) % 10] as number)++;
    for (const h of hits) expect(Math.abs(h - 1000)).toBeLessThan(150);
  });
});

