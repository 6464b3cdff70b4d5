/**
 * The deterministic loss test of issue 16 item 2, with real processes: a master, a replica and three sentinels;
 * sidecar A (`callgate serve` through Sentinel, waiting for 1 replica). The replica is paused (SIGSTOP) and cut off
 * (its link dropped by the master) so that it lags; an opt-out (`callgate block`), a consent revocation (`callgate list remove`), a refusal (`outcome`) and a
 * counted attempt (a `dial` check) are recorded — each acknowledged as "not replicated"; the master is killed
 * (-9) and the replica resumed, so that Sentinel promotes a replica that LACKS them. Sidecar A re-publishes them
 * on the new master; sidecar B, started after the promotion with no copy of its own, must block every one.
 * An opt-out acknowledged as replicated before the pause must survive the fail-over as is.
 */
import { join } from 'node:path';
import { utimesSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { DAY_MS } from '../../../src/core/time.js';
import { readyz } from '../../helpers/endpoints.js';
import { uniquePrefix } from '../../helpers/redis.js';
import { infoField, startSentinelTopology, type SentinelTopology } from '../../helpers/redis-sentinel.js';
import { tempDir } from '../../helpers/service.js';
import { runCli, spawnServe, waitFor, type SpawnedServer } from '../../helpers/spawn-cli.js';
import { writeConfig } from '../../helpers/config-file.js';

const fr = (i: number): string => `06${String(12_000_000 + i).padStart(8, '0')}`;
const KEPT = fr(1);
const OPTED_OUT = fr(2);
const REFUSED = fr(3);
const DIALLED = fr(4);
const REVOKED = fr(5);
const UNLISTED = fr(9);
const CONSENTS = [REVOKED, fr(6)];

describe('acknowledged writes survive a Sentinel fail-over (WAIT, then re-publishing)', () => {
  let topo: SentinelTopology;
  const servers: SpawnedServer[] = [];
  beforeAll(async () => {
    topo = await startSentinelTopology({ replicas: 1, downAfterMs: 1000, failoverTimeoutMs: 3000 });
  }, 60_000);
  afterAll(async () => {
    for (const s of servers) s.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await topo?.stop();
  });

  it('keeps an opt-out, a revocation, a refusal and a counted attempt recorded while the replica lagged, on a sidecar started after the promotion', async () => {
    const dir = tempDir();
    const consents = join(dir, 'consents.txt');
    writeFileSync(consents, `${CONSENTS.join('\n')}\n`);
    const yesterday = (Date.now() - DAY_MS) / 1000;
    utimesSync(consents, yesterday, yesterday);
    const config = writeConfig(dir, {
      lists: [
        { name: 'internal', kind: 'deny' },
        { name: 'consents', kind: 'allow', role: 'consent', source: consents },
      ],
      // No calling hours: the test runs at any time of day.
      policies: { optout: { base: 'fr-optout', hours: false, frequencyCap: { max: 1, windowDays: 30 } }, optin: { base: 'fr-optin', hours: false } },
      campaigns: { winter: { policy: 'optout' }, spring: { policy: 'optin' } },
    });
    const prefix = uniquePrefix('cgtest-failover-loss');
    const redisArgs = ['--redis', 'redis://ignored:6379', '--redis-prefix', prefix, '--redis-sentinels', topo.sentinelList, '--redis-sentinel-name', topo.masterName];
    // 400 ms: the replica answers in about 1 ms when it runs; a paused one never does.
    const serve = async (id: string): Promise<{ server: SpawnedServer; client: CheckClient }> => {
      const server = await spawnServe(['--config', config, '--instance-id', id, '--redis-wait-timeout-ms', '400', '--redis-confirm-timeout-ms', '2000', ...redisArgs]);
      servers.push(server);
      await waitFor(async () => (await readyz(server.port)).status === 200, `${id} ready`, 30_000);
      const client = await CheckClient.connect(`ws://127.0.0.1:${server.port}/`);
      return { server, client };
    };
    const a = await serve('sidecar-a');
    const admin = ['--url', `http://127.0.0.1:${a.server.port}`];

    // Acknowledged as replicated while the replica runs.
    const kept = await runCli(['block', KEPT, ...admin]);
    expect(kept.code).toBe(0);
    expect(kept.stdout).not.toMatch(/not replicated/);

    const master = await topo.masterNode();
    const replica = topo.nodes.find((n) => n.port !== master.port);
    if (replica === undefined) throw new Error('no replica');
    let masterOffset = 0;
    topo.pause(replica);
    try {
      // SIGSTOP alone loses nothing on one host: what the master sent sits in the paused replica's socket buffer and
      // is read on SIGCONT. So the master also drops the replica's link: the paused replica cannot reconnect, and
      // what the master writes next reaches no replica (a partition between them, the way async replication loses).
      await master.cli('CLIENT', 'KILL', 'TYPE', 'replica');
      const optOut = await runCli(['block', OPTED_OUT, ...admin]);
      expect(optOut.code).toBe(0);
      expect(optOut.stdout).toMatch(/not replicated/);
      const revoked = await runCli(['list', 'remove', 'consents', REVOKED, ...admin]);
      expect(revoked.code).toBe(0);
      expect(revoked.stdout).toMatch(/not replicated/);
      expect(await a.client.request({ op: 'outcome', number: REFUSED, campaign: 'winter', outcome: 'refused' })).toMatchObject({ ok: true, replicated: false });
      // The verdict of a dial check stands (the attempt IS counted, on the master and in A's copy).
      expect(await a.client.request({ op: 'check', number: DIALLED, campaign: 'winter', dial: true })).toMatchObject({ verdict: 'allow' });
      expect((await readyz(a.server.port)).body).toMatchObject({ redis: { unreplicated: 4 } });
      // The master dies with the only copy of those four writes; the replica, resumed, is promoted without them.
      masterOffset = Number(infoField(await master.cli('INFO', 'replication'), 'master_repl_offset'));
      await topo.kill(master);
    } finally {
      topo.resume(replica);
    }
    await topo.waitForPromotion(master.port);
    // Proof that the promoted replica lacked them: it was promoted at an offset short of the dead master's
    // (second_repl_offset is one past the offset it had when promoted). A re-publishes within moments, so the keys
    // themselves cannot be caught missing without a race.
    const promotedAt = Number(infoField(await replica.cli('INFO', 'replication'), 'second_repl_offset')) - 1;
    expect(promotedAt).toBeGreaterThan(0);
    expect(promotedAt).toBeLessThan(masterOffset);

    // A reconnects through Sentinel to the new master and re-publishes there. The new master has no replica yet, so
    // A's WAIT keeps failing and the writes stay pending (re-published once, then only waited for).
    await waitFor(async () => (await replica.cli('EXISTS', `${prefix}refused:33612000003`)) === '1', 'A to re-publish on the new master', 30_000).catch((err: unknown) => {
      // What A logged (warnings and above, by level label: the logs say "warn", not 40): why it did not re-publish.
      // Repeats are counted, not listed, so that a retry loop's warning does not push the first cause out of view.
      const told = new Map<string, number>();
      for (const l of a.server.logs) {
        if (!['warn', 'error', 'fatal'].includes(String(l['level']))) continue;
        const e = l['err'] as { message?: unknown } | undefined;
        const line = `${String(l['msg'])}${e === undefined ? '' : ` (${String(e.message).slice(0, 200)})`}`;
        told.set(line, (told.get(line) ?? 0) + 1);
      }
      const lines = [...told].map(([line, n]) => (n > 1 ? `${n}× ${line}` : line));
      throw new Error(`${(err as Error).message}; sidecar A logged: ${lines.slice(-25).join(' | ')}`);
    });

    // Meanwhile A itself never stopped blocking them (its copy).
    expect(await a.client.request({ op: 'check', number: OPTED_OUT })).toMatchObject({ verdict: 'block', reason: 'internal' });

    const b = await serve('sidecar-b');
    try {
      expect(await b.client.request({ op: 'check', number: KEPT })).toMatchObject({ verdict: 'block', reason: 'internal' });
      await waitFor(async () => ((await b.client.request({ op: 'check', number: OPTED_OUT })) as unknown as { verdict: string }).verdict === 'block', 'B to block the re-published opt-out', 10_000);
      expect(await b.client.request({ op: 'check', number: OPTED_OUT })).toMatchObject({ verdict: 'block', reason: 'internal' });
      expect(await b.client.request({ op: 'check', number: REFUSED, campaign: 'winter' })).toMatchObject({ verdict: 'block', reason: 'refused_recently' });
      expect(await b.client.request({ op: 'check', number: DIALLED, campaign: 'winter', dial: true })).toMatchObject({ verdict: 'block', reason: 'frequency_cap' });
      expect(await b.client.request({ op: 'check', number: REVOKED, campaign: 'spring' })).toMatchObject({ verdict: 'block', reason: 'no_consent' });
      expect(await b.client.request({ op: 'check', number: CONSENTS[1], campaign: 'spring' })).toMatchObject({ verdict: 'allow', reason: 'consent' });
      expect(await b.client.request({ op: 'check', number: UNLISTED })).toMatchObject({ verdict: 'allow' });
      expect((await readyz(a.server.port)).body).toMatchObject({ redis: { unreplicated: 4 } });
      // The old master comes back (empty); Sentinel makes it a replica of the new one, which then holds A's writes:
      // A's WAIT succeeds and nothing is pending any more.
      await master.start();
      await waitFor(async () => ((await readyz(a.server.port)).body as { redis?: { unreplicated?: number } }).redis?.unreplicated === 0, 'A to see its writes replicated', 60_000);
    } finally {
      b.client.close();
      a.client.close();
    }
  }, 120_000);
});
