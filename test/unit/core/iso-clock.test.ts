import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoClock } from '../../../src/core/iso-clock.js';

describe('isoClock: the text of toISOString', () => {
  it('agrees with toISOString over instants in any order (the cached second changes)', () => {
    const iso = isoClock();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
        expect(iso(ms)).toBe(new Date(ms).toISOString());
      }),
      { seed: 17, numRuns: 20_000 },
    );
  });

  it('agrees across second, day and year boundaries, forwards and backwards', () => {
    const iso = isoClock();
    const edges = [0, 999, 1000, Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1), Date.UTC(2028, 1, 29, 12), 253_402_300_799_999];
    for (const e of [...edges, ...edges.reverse()]) for (const d of [-1, 0, 1]) if (e + d >= 0) expect(iso(e + d)).toBe(new Date(e + d).toISOString());
  });

  it('outside the four-digit years or not an integer: toISOString itself', () => {
    const iso = isoClock();
    for (const ms of [-1, 1.5, 253_402_300_800_000, -62_198_755_200_000]) expect(iso(ms)).toBe(new Date(ms).toISOString());
    expect(() => iso(Number.NaN)).toThrow(RangeError);
  });
});
