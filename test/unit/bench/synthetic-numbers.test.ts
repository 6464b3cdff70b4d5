/**
 * The synthetic numbers past the overseas share's 5M numbers (lists above ~71M, bench/growth.ts): distinct, valid
 * for the normaliser in every style a list writes them in, and the numbers of smaller lists unchanged.
 */
import { describe, expect, it } from 'vitest';
import { SyntheticNumbers, formatNumber, stylesFor } from '../../../bench/synthetic-numbers.js';
import { normalise } from '../../../src/numbers/normalise.js';

describe('SyntheticNumbers past a category\'s blocks', () => {
  const gen = new SyntheticNumbers(1);

  it('keeps the numbers of smaller lists', () => {
    expect([gen.at(0), gen.at(12_345)]).toEqual(['+33664591427', '+33489876206']);
  });

  it('yields distinct numbers that normalise back to themselves up to 110M', () => {
    const seen = new Set<string>();
    // Windows across the switch to the overflow blocks (~71.4M) and at the far end.
    for (const start of [71_000_000, 71_400_000, 100_000_000, 109_990_000]) {
      for (let i = start; i < start + 10_000; i++) {
        const e164 = gen.at(i);
        expect(seen.has(e164)).toBe(false);
        seen.add(e164);
        for (const style of stylesFor(e164)) expect(normalise(formatNumber(e164, style))).toBe(e164);
      }
    }
    expect(seen.size).toBe(40_000);
  });

  it('says so when even the overflow is exhausted', () => {
    // 5M + 3M overseas numbers at 7 per 100: the last one is near index 114.29M.
    expect(() => {
      for (let i = 114_200_000; i < 114_400_000; i++) gen.at(i);
    }).toThrow(RangeError);
  });
});
