/**
 * A sidecar whose clock is 10 s ahead of the shared Redis's TIME raises clock_drift; one on time does not.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { tempDir, writeList } from '../../helpers/service.js';
import { waitFor } from '../../helpers/spawn-cli.js';

describe('clock drift between a sidecar and Redis', () => {
  const prefix = uniquePrefix();
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  it('raises clock_drift when the sidecar clock is 10 s ahead of Redis, and not when it is on time', async () => {
    const list = writeList(['0612345678'], 'bloctel.txt', tempDir());
    const ahead = await startRedisMode(SHARED_REDIS_URL, prefix, ['--list', `bloctel=${list}`, '--instance-id', 'ahead'], { instanceId: 'ahead', now: () => Date.now() + 10_000 });
    const onTime = await startRedisMode(SHARED_REDIS_URL, prefix, ['--list', `bloctel=${list}`, '--instance-id', 'on-time', '--clock-drift-alert-ms', '5000'], { instanceId: 'on-time' });
    try {
      const alert = await waitFor(() => ahead.alerts.active().find((a) => a.kind === 'clock_drift'), 'clock_drift alert');
      expect(alert.details?.['driftMs']).toBeGreaterThan(5000);
      const res = await fetch(`http://127.0.0.1:${ahead.port}/api/alerts`);
      expect(((await res.json()) as { alerts: { kind: string }[] }).alerts.map((a) => a.kind)).toContain('clock_drift');
      // The on-time sidecar measured too (its first check runs right after its load): no alert.
      expect(onTime.alerts.active().filter((a) => a.kind === 'clock_drift')).toEqual([]);
    } finally {
      await ahead.stop();
      await onTime.stop();
    }
  });
});
