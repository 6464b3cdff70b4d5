/**
 * The fleet's last minute through a real Redis, with an injected clock: checks of two sidecars that
 * straddle a minute boundary count whole in the fleet window and in each sidecar's row.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AlertRegistry } from '../../../src/supervision/alerts.js';
import { CheckStats } from '../../../src/supervision/check-stats.js';
import { FleetStats } from '../../../src/supervision/fleet-stats.js';
import { ListRegistry } from '../../../src/lists/registry.js';
import { silentLogger } from '../../../src/core/logger.js';
import { RedisStore } from '../../../src/redis/store.js';
import { StatsService } from '../../../src/supervision/stats-service.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';

describe('fleet figures of the last minute', () => {
  const prefix = uniquePrefix();
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  it('count checks straddling a minute boundary whole, fleet-wide and per sidecar', async () => {
    const T0 = Math.floor(Date.now() / 60_000) * 60_000; // a minute boundary
    let now = T0 + 55_000;
    const clock = (): number => now;
    const store = await RedisStore.connect({ url: SHARED_REDIS_URL, prefix });
    try {
      const sidecar = (id: string): { stats: CheckStats; fleet: FleetStats } => {
        const stats = new CheckStats({ now: clock });
        return { stats, fleet: new FleetStats({ store: store.stats, sidecars: store.fleet, stats, instanceId: id, logger: silentLogger(), now: clock }) };
      };
      const a = sidecar('side-a');
      const b = sidecar('side-b');
      for (let i = 0; i < 4; i++) a.stats.record('winter', 'block', 'bloctel');
      await a.fleet.flush();
      now = T0 + 62_000;
      for (let i = 0; i < 6; i++) b.stats.record('winter', 'allow', 'not_listed');
      await a.fleet.flush();
      await b.fleet.flush();

      now = T0 + 100_000;
      const view = new StatsService({
        stats: a.stats,
        registry: new ListRegistry([]),
        alerts: new AlertRegistry({ logger: silentLogger(), now: clock }),
        instanceId: 'side-a',
        figures: a.fleet,
        nextRefresh: () => ({}),
        logger: silentLogger(),
        now: clock,
      });
      const v = await view.view();
      expect(v.scope).toBe('fleet');
      expect(v.windows['1m']).toMatchObject({ checks: 10, blocked: 4 });
      expect(v.campaigns).toEqual([expect.objectContaining({ campaign: 'winter', checks: 10, blocked: 4 })]);
      const rows = await b.fleet.sidecarFigures(['side-a', 'side-b']);
      expect(rows.get('side-a')).toMatchObject({ checks: 4, blocked: 4 });
      expect(rows.get('side-b')).toMatchObject({ checks: 6, blocked: 0 });
    } finally {
      await store.close();
    }
  });
});
