import { describe, expect, it } from 'vitest';
import { AlertRegistry } from '../../../src/supervision/alerts.js';
import { certainDriftMs, startClockDriftMonitor } from '../../../src/supervision/clock-drift.js';
import { silentLogger } from '../../../src/core/logger.js';

describe('clock drift against Redis', () => {
  it('counts only the drift beyond the round trip', () => {
    expect(certainDriftMs(10_000, 10_000, 10_000)).toBe(0);
    // TIME read somewhere in a 400 ms round trip: 150 ms off is within it.
    expect(certainDriftMs(10_000, 10_050, 10_400)).toBe(0);
    expect(certainDriftMs(13_000, 10_000, 13_000)).toBe(2999);
    expect(certainDriftMs(10_000, 13_000, 10_000)).toBe(-2999);
  });

  it('raises clock_drift past the threshold and clears it once the clocks agree', async () => {
    const alerts = new AlertRegistry({ logger: silentLogger() });
    let remote = 1_000_000;
    const local = 1_000_000;
    const monitor = startClockDriftMonitor({ remoteNow: async () => remote, alerts, thresholdMs: 2000, logger: silentLogger(), now: () => local, everyMs: 3_600_000 });
    try {
      remote = local - 5000;
      expect(await monitor.check()).toBe(4999);
      expect(alerts.active()).toEqual([expect.objectContaining({ id: 'clock_drift', kind: 'clock_drift', severity: 'warning', details: { driftMs: 4999, thresholdMs: 2000 } })]);
      remote = local + 1500;
      await monitor.check();
      expect(alerts.active()).toEqual([]);
      // Redis unreachable: the drift is unknown, nothing changes.
      remote = local - 5000;
      await monitor.check();
      const failing = startClockDriftMonitor({ remoteNow: () => Promise.reject(new Error('down')), alerts, thresholdMs: 2000, logger: silentLogger(), now: () => local, everyMs: 3_600_000 });
      expect(await failing.check()).toBeNull();
      failing.stop();
      expect(alerts.active().map((a) => a.id)).toEqual(['clock_drift']);
    } finally {
      monitor.stop();
    }
  });
});
