/**
 * Reconnect delays (src/client/backoff.ts): exponential, capped, jittered, never zero.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from '../../../src/client/backoff.js';

const SEED = 20261203;

describe('backoffDelay', () => {
  it('doubles its ceiling per attempt from initialMs and stops at maxMs', () => {
    const top = (attempt: number): number => backoffDelay(attempt, DEFAULT_BACKOFF, () => 1);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(top)).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    expect(top(10_000)).toBe(5000);
  });

  it('keeps half the ceiling fixed and jitters the other half', () => {
    expect(backoffDelay(2, DEFAULT_BACKOFF, () => 0)).toBe(200);
    expect(backoffDelay(2, DEFAULT_BACKOFF, () => 0.5)).toBe(300);
  });

  it('is always positive, finite and at most maxMs, whatever the attempt and the options', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5, max: 1_000_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 1, max: 1000, noNaN: true }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (attempt, initialMs, maxMs, factor, r) => {
          const d = backoffDelay(attempt, { initialMs, maxMs, factor }, () => r);
          expect(Number.isFinite(d)).toBe(true);
          expect(d).toBeGreaterThan(0);
          expect(d).toBeLessThanOrEqual(Math.min(maxMs, Math.max(initialMs, maxMs)));
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
