/**
 * A Redis that stops confirming (issue 11 item 8): a private redis-server frozen with SIGSTOP makes every Bloom
 * hit answer `unconfirmed` (blocked, as it must be). That used to be silent; now the list's unconfirmed answers
 * show in /metrics and an `unconfirmed_rate` alert is raised for the list (this sidecar's confirmations) and,
 * once the counts reach Redis again, fleet-wide; both clear once the window has only confirmed answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { startPrivateRedis, type PrivateRedis } from '../../helpers/redis-server.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { writeList } from '../../helpers/service.js';
import { waitFor } from '../../helpers/spawn-cli.js';

interface ApiAlert {
  readonly id: string;
  readonly kind: string;
  readonly severity: string;
  readonly list?: string;
}

describe('unconfirmed_rate alert', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    redis?.signal('SIGCONT');
    await redis?.stop();
  });

  it('is raised per list and fleet-wide while Redis does not confirm, visible in /metrics and /api/alerts, and clears after recovery', async () => {
    let offsetMs = 0;
    const svc = await startRedisMode(redis.url, 'cg:', ['--list', `bloctel=${writeList(['0612000001'])}`, '--unconfirmed-alert-window-ms', '60000', '--unconfirmed-alert-min-count', '3'], {
      confirmTimeoutMs: 200,
      now: () => Date.now() + offsetMs,
    });
    const c = await CheckClient.connect(svc.url);
    const alerts = async (): Promise<ApiAlert[]> => ((await (await fetch(`http://127.0.0.1:${svc.port}/api/alerts`)).json()) as { alerts: ApiAlert[] }).alerts.filter((a) => a.kind === 'unconfirmed_rate');
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${svc.port}/metrics`)).text();
    try {
      expect(await c.request({ op: 'check', number: '0612000001' })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
      expect(await alerts()).toEqual([]);

      redis.signal('SIGSTOP');
      for (let i = 0; i < 5; i++) expect(await c.request({ op: 'check', number: '0612000001' })).toMatchObject({ verdict: 'block', reason: 'unconfirmed' });
      // Misses need no Redis: they still answer.
      expect(await c.request({ op: 'check', number: '0612000099' })).toMatchObject({ verdict: 'allow', reason: 'not_listed' });
      const perList = await waitFor(async () => (await alerts()).find((a) => a.id === 'unconfirmed_rate:bloctel'), 'the per-list alert');
      expect(perList).toMatchObject({ list: 'bloctel', severity: 'critical' });
      const m = await metrics();
      expect(Number(/^callgate_confirmations_total\{list="bloctel",answer="unconfirmed"\} (\d+)$/m.exec(m)?.[1])).toBeGreaterThanOrEqual(5);
      expect(m).toMatch(/^callgate_alerts_active\{kind="unconfirmed_rate",severity="critical"\} [1-9]/m);

      redis.signal('SIGCONT');
      await waitFor(async () => (await c.request({ op: 'check', number: '0612000001' })).reason === 'bloctel', 'confirmations to come back');
      // The counts of the outage reach Redis with the next flush: the fleet's share of unconfirmed checks is high too.
      await waitFor(async () => (await alerts()).find((a) => a.id === 'unconfirmed_rate'), 'the fleet-wide alert');
      // Once the window holds only confirmed answers, both clear.
      offsetMs = 3 * 60_000;
      expect(await c.request({ op: 'check', number: '0612000001' })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
      await waitFor(async () => (await alerts()).length === 0, 'the alerts to clear');
      expect(await metrics()).toMatch(/^callgate_confirmations_total\{list="bloctel",answer="member"\} [1-9]/m);
    } finally {
      redis.signal('SIGCONT');
      await c.close();
      await svc.stop();
    }
  });
});
