import { describe, expect, it } from 'vitest';
import { RedisLoadPacer, type PacerClients } from '../../../src/redis/load-pacer.js';
import { DEFAULT_LOAD_PACING } from '../../../src/refresh/pacing.js';

/** Fake clients: PING answered after `pingMs`, INFO counting `othersPerMs` commands per ms from other clients. */
function fakes(options: { othersPerMs: number; pingMs: () => number }): PacerClients {
  const t0 = performance.now();
  let ours = 0;
  return {
    fast: {
      ping: () => {
        ours++;
        return new Promise((resolve) => setTimeout(() => resolve('PONG'), options.pingMs()));
      },
    },
    bulk: {
      info: async () => `# Stats\r\ntotal_commands_processed:${Math.round((performance.now() - t0) * options.othersPerMs) + ours++}\r\n`,
    },
  };
}

describe('RedisLoadPacer', () => {
  it('runs at full speed when nobody else sends commands', async () => {
    const pacer = await RedisLoadPacer.start(fakes({ othersPerMs: 0, pingMs: () => 0 }), DEFAULT_LOAD_PACING, 32);
    expect(await pacer.next()).toBe(32);
    expect(pacer.figures().trafficShare).toBe(0);
  });

  it('starts small under traffic, and shrinks and pauses while its probes run slow', async () => {
    let slow = false;
    const pacer = await RedisLoadPacer.start(fakes({ othersPerMs: 5, pingMs: () => (slow ? 30 : 0) }), { ...DEFAULT_LOAD_PACING, maxPauseMs: 2 }, 32);
    expect(await pacer.next()).toBe(1);
    slow = true;
    // Chunks "run" while their probe is out; 20 probes make a decision.
    for (let i = 0; i < 200 && pacer.figures().congestions === 0; i++) {
      const chunk = new Promise((resolve) => setTimeout(resolve, 35));
      pacer.running(chunk, 1);
      await chunk;
      await pacer.next();
    }
    const f = pacer.figures();
    expect(f.trafficShare).toBeGreaterThan(0);
    expect(f.congestions).toBeGreaterThan(0);
    expect(f.pauseMs).toBeGreaterThan(0);
  });
});
