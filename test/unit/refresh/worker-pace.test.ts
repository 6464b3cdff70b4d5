import { describe, expect, it } from 'vitest';
import { newPaceBuffer, workerPace } from '../../../src/refresh/worker-pace.js';

describe('workerPace (the worker side of the pace buffer)', () => {
  it('never sleeps at full speed', () => {
    const buffer = newPaceBuffer();
    const pace = workerPace(buffer);
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) pace(1);
    expect(new Int32Array(buffer)[2]).toBe(0);
    // No sleep at all: far below one 1 ms pause per unit (no timing assertion beyond that).
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('sleeps the instructed pause after every chunk of units and counts what it slept', () => {
    const buffer = newPaceBuffer();
    const slots = new Int32Array(buffer);
    slots[0] = 2; // units per chunk
    slots[1] = 3; // ms
    const pace = workerPace(buffer);
    pace(1);
    expect(slots[2]).toBe(0);
    pace(1);
    expect(slots[2]).toBe(3);
    pace(0.5);
    pace(1.5);
    expect(slots[2]).toBe(6);
    slots[1] = 0;
    pace(2);
    expect(slots[2]).toBe(6);
  });
});
