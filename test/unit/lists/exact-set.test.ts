import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isCallgateError } from '../../../src/core/errors.js';
import { ExactSet } from '../../../src/lists/exact-set.js';

const keyArb = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
// Small key space too, so that duplicates and near neighbours are common.
const smallKeyArb = fc.integer({ min: 33_600_000_000, max: 33_600_000_050 });

describe('ExactSet', () => {
  it('agrees with a Set model for members and non-members', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(keyArb, smallKeyArb), { maxLength: 400 }),
        fc.array(fc.oneof(keyArb, smallKeyArb), { maxLength: 100 }),
        (keys, probes) => {
          const model = new Set(keys);
          const { set, duplicates } = ExactSet.build(Float64Array.from(keys));
          expect(set.size).toBe(model.size);
          expect(duplicates).toBe(keys.length - model.size);
          for (const key of [...keys, ...probes]) expect(set.has(key)).toBe(model.has(key));
          expect([...set.keys()]).toEqual([...model].sort((a, b) => a - b));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles the empty set', () => {
    const { set, duplicates } = ExactSet.build(new Float64Array(0));
    expect([set.size, duplicates, set.has(0), set.has(33612345678)]).toEqual([0, 0, false, false]);
    expect(ExactSet.EMPTY.size).toBe(0);
    expect(ExactSet.EMPTY.has(1)).toBe(false);
  });

  it('handles one element', () => {
    const { set } = ExactSet.build(Float64Array.of(33612345678));
    expect(set.has(33612345678)).toBe(true);
    expect(set.has(33612345677)).toBe(false);
    expect(set.has(33612345679)).toBe(false);
    expect(set.size).toBe(1);
  });

  it('counts duplicates and trims the buffer when they waste room', () => {
    const keys = Float64Array.of(5, 3, 5, 5, 1, 3, 9, 9);
    const { set, duplicates } = ExactSet.build(keys);
    expect(duplicates).toBe(4);
    expect([...set.keys()]).toEqual([1, 3, 5, 9]);
    expect(set.byteLength).toBe(4 * 8);
  });

  it('keeps keys beyond 2^32 exact', () => {
    const big = [2 ** 53 - 1, 2 ** 53 - 2, 2 ** 32, 2 ** 32 + 1, 262_692_123_456];
    const { set } = ExactSet.build(Float64Array.from(big));
    for (const key of big) expect(set.has(key)).toBe(true);
    expect(set.has(2 ** 32 - 1)).toBe(false);
  });

  it('rejects keys that are not NumberKeys', () => {
    for (const bad of [Number.NaN, 1.5, -3, Number.POSITIVE_INFINITY]) {
      let code: string | undefined;
      try {
        ExactSet.build(Float64Array.of(1, bad, 2));
      } catch (err) {
        code = isCallgateError(err) ? err.code : 'other';
      }
      expect(code).toBe(ErrorCode.CONFIG);
    }
  });
});
