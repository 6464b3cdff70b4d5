import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PaceController, quantile, type PaceSettings } from '../../../src/refresh/pacing.js';

const settings: PaceSettings = { targetRatio: 1.5, targetUs: null, maxChunk: 32, minChunk: 1, maxPauseMs: 16, window: 10, maxSlowdown: 3 };

/** Feeds one decision's worth of samples of this latency. */
function decide(c: PaceController, latencyUs: number, window = settings.window): void {
  for (let i = 0; i < window; i++) c.sample(latencyUs);
}

describe('quantile', () => {
  it('takes the nearest rank', () => {
    expect(quantile([5, 1, 4, 2, 3], 0.5)).toBe(3);
    expect(quantile([5, 1, 4, 2, 3], 0.99)).toBe(5);
    expect(quantile([7], 0.01)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('PaceController', () => {
  it('runs at full speed without traffic, whatever the latency', () => {
    const c = new PaceController(settings, 100);
    decide(c, 1e6);
    expect(c.next()).toEqual({ chunk: 32, pauseMs: 0 });
    expect(c.figures().decisions).toBe(0);
  });

  it('starts small when traffic arrives and doubles while the latency stays at baseline (slow start)', () => {
    const c = new PaceController(settings, 100);
    c.traffic(true);
    expect(c.next()).toEqual({ chunk: 1, pauseMs: 0 });
    const chunks: number[] = [];
    for (let i = 0; i < 6; i++) {
      decide(c, 100);
      chunks.push(c.next().chunk);
    }
    expect(chunks).toEqual([2, 4, 8, 16, 32, 32]);
  });

  it('halves on congestion, then grows by one unit per clear decision (AIMD)', () => {
    const c = new PaceController(settings, 100);
    c.traffic(true);
    for (let i = 0; i < 5; i++) decide(c, 100);
    expect(c.next().chunk).toBe(32);
    decide(c, 151);
    expect(c.next().chunk).toBe(16);
    decide(c, 149);
    expect(c.next().chunk).toBe(17);
    decide(c, 100);
    expect(c.next().chunk).toBe(18);
  });

  it('at the smallest chunk, pauses longer on congestion, up to the floor, and gives the pause back first', () => {
    const c = new PaceController(settings, 100);
    c.traffic(true);
    const pauses: number[] = [];
    for (let i = 0; i < 7; i++) {
      decide(c, 1000);
      pauses.push(c.next().pauseMs);
    }
    expect(pauses).toEqual([1, 2, 4, 8, 16, 16, 16]);
    expect(c.next().chunk).toBe(1);
    expect(c.figures().atFloor).toBe(2);
    decide(c, 100);
    expect(c.next()).toEqual({ chunk: 1, pauseMs: 8 });
    for (let i = 0; i < 4; i++) decide(c, 100);
    expect(c.next()).toEqual({ chunk: 1, pauseMs: 0 });
    decide(c, 100);
    expect(c.next().chunk).toBe(2);
  });

  it('keeps its pauses within the slowdown budget: at most (maxSlowdown - 1) × the time spent working', () => {
    const c = new PaceController(settings, 100);
    c.traffic(true);
    for (let i = 0; i < 6; i++) decide(c, 1000);
    expect(c.next().pauseMs).toBe(16);
    expect(c.next({ activeMs: 100, pausedMs: 150 }).pauseMs).toBe(16);
    expect(c.next({ activeMs: 100, pausedMs: 190 }).pauseMs).toBe(10);
    // Budget spent: full speed, the deadline before the latency target.
    expect(c.next({ activeMs: 100, pausedMs: 200 })).toEqual({ chunk: 32, pauseMs: 0 });
    expect(c.next({ activeMs: 100, pausedMs: 250 })).toEqual({ chunk: 32, pauseMs: 0 });
  });

  it('never pauses past the budget, whatever the samples (a load ends within maxSlowdown × its working time)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.double({ min: 0, max: 1e5, noNaN: true }), fc.double({ min: 0, max: 50, noNaN: true })), { maxLength: 300 }), (steps) => {
        const c = new PaceController(settings, 100);
        c.traffic(true);
        let activeMs = 0;
        let pausedMs = 0;
        for (const [latency, work] of steps) {
          c.sample(latency);
          pausedMs += c.next({ activeMs, pausedMs }).pauseMs;
          activeMs += work;
          expect(pausedMs).toBeLessThanOrEqual((settings.maxSlowdown - 1) * activeMs + 1e-9);
        }
      }),
    );
  });

  it('goes back to full speed when the traffic stops', () => {
    const c = new PaceController(settings, 100);
    c.traffic(true);
    decide(c, 1000);
    c.traffic(false);
    expect(c.next()).toEqual({ chunk: 32, pauseMs: 0 });
  });

  it('uses an absolute target when given one', () => {
    const c = new PaceController({ ...settings, targetUs: 500 }, 100);
    c.traffic(true);
    decide(c, 400);
    expect(c.next().chunk).toBe(2);
    expect(c.figures().targetUs).toBe(500);
  });

  it('refuses bounds that cannot hold', () => {
    expect(() => new PaceController({ ...settings, minChunk: 0 }, 100)).toThrow(RangeError);
    expect(() => new PaceController({ ...settings, minChunk: 40 }, 100)).toThrow(RangeError);
    expect(() => new PaceController({ ...settings, targetRatio: 0.5 }, 100)).toThrow(RangeError);
  });

  it('never leaves its bounds (the floor rate holds), whatever the samples and traffic', () => {
    fc.assert(
      fc.property(
        fc.record({ minChunk: fc.integer({ min: 1, max: 8 }), extra: fc.integer({ min: 0, max: 64 }), maxPauseMs: fc.integer({ min: 0, max: 100 }), window: fc.integer({ min: 1, max: 20 }) }),
        fc.array(fc.oneof(fc.double({ min: 0, max: 1e7, noNaN: true }), fc.boolean()), { maxLength: 500 }),
        ({ minChunk, extra, maxPauseMs, window }, events) => {
          const s: PaceSettings = { targetRatio: 1.5, targetUs: null, minChunk, maxChunk: minChunk + extra, maxPauseMs, window, maxSlowdown: 3 };
          const c = new PaceController(s, 100);
          for (const e of events) {
            if (typeof e === 'boolean') c.traffic(e);
            else c.sample(e);
            const { chunk, pauseMs } = c.next();
            expect(chunk).toBeGreaterThanOrEqual(s.minChunk);
            expect(chunk).toBeLessThanOrEqual(s.maxChunk);
            expect(Number.isInteger(chunk)).toBe(true);
            expect(pauseMs).toBeGreaterThanOrEqual(0);
            expect(pauseMs).toBeLessThanOrEqual(s.maxPauseMs);
          }
        },
      ),
    );
  });

  it('reaches full speed under traffic whose latency stays under the target', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 149, noNaN: true }), { minLength: 60, maxLength: 200 }), (samples) => {
        const c = new PaceController(settings, 100);
        c.traffic(true);
        for (const x of samples) c.sample(x);
        expect(c.next()).toEqual({ chunk: 32, pauseMs: 0 });
      }),
    );
  });
});
