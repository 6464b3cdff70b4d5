/**
 * Redis losing its data (issue #11 item 2), on a private redis-server: FLUSHALL, and a restart without
 * persistence. Intraday opt-outs (a source-less list and a list with a file), a consent revocation, a
 * refusal and counted attempts must keep blocking on every sidecar throughout — through the documented
 * recovery (`callgate load` again) and sidecar restarts — be re-published to Redis from the sidecars'
 * copies, and a critical alert must say what happened.
 */
import { join } from 'node:path';
import { utimesSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeConfig } from '../../../src/config/config.js';
import { addedKey, refusedKey, revokedKey } from '../../../src/redis/keys.js';
import { loadListIntoRedis } from '../../../src/backends/redis-load.js';
import { RedisStore } from '../../../src/redis/store.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { uniquePrefix } from '../../helpers/redis.js';
import { startPrivateRedis, type PrivateRedis } from '../../helpers/redis-server.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { tempDir } from '../../helpers/service.js';
import { waitFor } from '../../helpers/spawn-cli.js';
import { watchNeverAllowed, type NeverAllow } from '../../helpers/wrong-allow-watch.js';
import { DAY_MS } from '../../../src/core/time.js';
import { writeConfig } from '../../helpers/config-file.js';

const TUESDAY_11H = Date.parse('2026-12-01T10:00:00Z');
type Sidecar = Awaited<ReturnType<typeof startRedisMode>>;

function writeDated(path: string, lines: readonly string[]): string {
  writeFileSync(path, `${lines.join('\n')}\n`);
  // Exported yesterday: the day's opt-outs are after it (a reload of the same file does not supersede them).
  const t = (Date.now() - DAY_MS) / 1000;
  utimesSync(path, t, t);
  return path;
}

function setup(dir: string): string {
  const config = writeConfig(dir, {
    lists: [
      { name: 'bloctel', kind: 'deny', source: writeDated(join(dir, 'bloctel.txt'), ['0612000001', '0612000002']) },
      { name: 'internal', kind: 'deny' },
      { name: 'consents', kind: 'allow', role: 'consent', source: writeDated(join(dir, 'consents.txt'), ['0612000003', '0612000010', '0612000011']) },
      { name: 'customers', kind: 'allow', role: 'contract', source: writeDated(join(dir, 'customers.txt'), ['0612000004', '0612000005', '0612000006']) },
    ],
    campaigns: { winter: { policy: 'fr-optin' } },
  });
  return config;
}

async function post(s: Sidecar, path: string, body: unknown): Promise<number> {
  return (await fetch(`http://127.0.0.1:${s.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).status;
}

/** `callgate load` of every list with a source (the documented recovery), as the CLI runs it. */
async function loadAgain(redis: PrivateRedis, prefix: string, config: string): Promise<void> {
  const store = await RedisStore.connect({ url: redis.url, prefix, confirmTimeoutMs: 2000 });
  try {
    const parsed = parseServeConfig(['--config', config, '--redis', redis.url, '--redis-prefix', prefix], {});
    for (const spec of parsed.lists) {
      if (spec.source === null) continue;
      // A sidecar re-loading it after the wipe holds its lock: retry, as an operator would.
      await waitFor(() => loadListIntoRedis(store, spec).then(() => true, (err: { code?: string }) => (err.code === 'CALLGATE_ERR_REDIS' ? false : Promise.reject(err))), `load ${spec.name}`);
    }
  } finally {
    await store.close();
  }
}

describe('a Redis that loses its data (private redis-server)', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  /** Two sidecars with their own durable copies; `restart` replaces one with a new process on the same copy. */
  async function fleet(prefix: string, config: string) {
    const journals = { a: join(tempDir('callgate-copy-'), 'a.jsonl'), b: join(tempDir('callgate-copy-'), 'b.jsonl') };
    const start = async (id: 'a' | 'b'): Promise<{ s: Sidecar; c: CheckClient }> => {
      const s = await startRedisMode(redis.url, prefix, ['--config', config, '--instance-id', id], {
        instanceId: id,
        journalPath: journals[id],
        now: () => TUESDAY_11H,
        timings: { pollMs: 200, heartbeatMs: 500, wipeHoldMs: 600 },
      });
      return { s, c: await CheckClient.connect(s.url) };
    };
    const sidecars = { a: await start('a'), b: await start('b') };
    return {
      sidecars,
      clients: (): CheckClient[] => [sidecars.a.c, sidecars.b.c],
      async restart(id: 'a' | 'b'): Promise<void> {
        const old = sidecars[id];
        await old.c.close();
        await old.s.stop();
        sidecars[id] = await start(id);
      },
      async stop(): Promise<void> {
        for (const x of Object.values(sidecars)) {
          await x.c.close();
          await x.s.stop();
        }
      },
    };
  }

  it('an intraday opt-out keeps blocking on every sidecar through FLUSHALL, `callgate load` again and restarts, and is re-published', async () => {
    const prefix = uniquePrefix('cgtest-wipe');
    const config = setup(tempDir());
    const f = await fleet(prefix, config);
    let watch: ReturnType<typeof watchNeverAllowed> | null = null;
    try {
      const { a } = f.sidecars;
      expect(await post(a.s, '/admin/lists/add', { list: 'internal', numbers: ['0612000020'], who: 'agent-1' })).toBe(200);
      expect(await post(a.s, '/admin/lists/add', { list: 'bloctel', numbers: ['0612000021'], who: 'agent-1' })).toBe(200);
      for (const c of f.clients()) {
        await waitFor(async () => (await c.request({ op: 'check', number: '0612000020' }))['reason'] === 'internal', 'the opt-out on every sidecar');
        await waitFor(async () => (await c.request({ op: 'check', number: '0612000021' }))['reason'] === 'bloctel', 'the bloctel opt-out on every sidecar');
      }
      const probes = (): NeverAllow[] =>
        f.clients().flatMap((client, i) => [
          { label: `sidecar ${i} internal opt-out`, client, request: { op: 'check', number: '0612000020' } },
          { label: `sidecar ${i} bloctel opt-out`, client, request: { op: 'check', number: '0612000021' } },
          { label: `sidecar ${i} bloctel file`, client, request: { op: 'check', number: '0612000001' } },
        ]);
      watch = watchNeverAllowed(probes);

      await redis.cli('FLUSHALL');
      // The documented recovery, then a sidecar start on the wiped Redis.
      await loadAgain(redis, prefix, config);
      await f.restart('b');
      const restarted = watch.rounds();
      await waitFor(() => watch!.rounds() > restarted + 20, 'traffic after the restart');
      expect(watch.seen()).toEqual([]);

      // Re-published from the copies: Redis holds the opt-outs again.
      await waitFor(async () => (await redis.cli('ZSCORE', addedKey(prefix, 'internal'), '33612000020')) !== '', 'internal opt-out re-published');
      await waitFor(async () => (await redis.cli('ZSCORE', addedKey(prefix, 'bloctel'), '33612000021')) !== '', 'bloctel opt-out re-published');
      // A brand-new sidecar (no copy) learns them from Redis.
      const fresh = await startRedisMode(redis.url, prefix, ['--config', config, '--instance-id', 'c'], { instanceId: 'c', timings: { pollMs: 200 } });
      const fc = await CheckClient.connect(fresh.url);
      try {
        expect(await fc.request({ op: 'check', number: '0612000020' })).toMatchObject({ verdict: 'block', reason: 'internal' });
        expect(await fc.request({ op: 'check', number: '0612000021' })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
      } finally {
        await fc.close();
        await fresh.stop();
      }
      // And the sidecars are back to normal: listed reasons, unlisted numbers allowed.
      for (const c of f.clients()) {
        await waitFor(async () => (await c.request({ op: 'check', number: '0612000020' }))['reason'] === 'internal', 'internal reason back');
        expect(await c.request({ op: 'check', number: '0612000099' })).toMatchObject({ verdict: 'allow' });
      }
      expect(f.sidecars.a.s.alerts.active()).toContainEqual(expect.objectContaining({ id: 'redis_wiped', kind: 'redis_wiped', severity: 'critical' }));
      expect(await watch.stop()).toEqual([]);
      watch = null;

      // A restart of Redis without persistence: the same again, without any load (the sidecars reload their files).
      watch = watchNeverAllowed(probes);
      await redis.stop();
      await redis.start();
      await waitFor(async () => (await redis.cli('ZSCORE', addedKey(prefix, 'internal'), '33612000020')) !== '', 'internal opt-out re-published after the restart', 30_000);
      for (const c of f.clients()) {
        await waitFor(async () => (await c.request({ op: 'check', number: '0612000099' }))['verdict'] === 'allow', 'unlisted allowed again', 30_000);
        await waitFor(async () => (await c.request({ op: 'check', number: '0612000021' }))['reason'] === 'bloctel', 'bloctel opt-out reason back', 30_000);
      }
      expect(await watch.stop()).toEqual([]);
      watch = null;
    } finally {
      await watch?.stop();
      await f.stop();
    }
  }, 120_000);

  it('a consent revocation, a refusal and counted attempts survive a FLUSHALL and `callgate load` again', async () => {
    const prefix = uniquePrefix('cgtest-wipe');
    const config = setup(tempDir());
    const f = await fleet(prefix, config);
    let watch: ReturnType<typeof watchNeverAllowed> | null = null;
    try {
      const { a, b } = f.sidecars;
      const winter = (number: string, dial = false): Record<string, unknown> => ({ op: 'check', number, campaign: 'winter', ...(dial ? { dial: true } : {}) });
      // Revoked on A, refused through B, four attempts counted through A.
      expect(await post(a.s, '/admin/lists/remove', { list: 'consents', numbers: ['0612000003'], who: 'crm' })).toBe(200);
      expect(await b.c.request({ op: 'outcome', number: '0612000004', campaign: 'winter', outcome: 'refused' })).toMatchObject({ ok: true });
      for (let i = 0; i < 4; i++) expect(await a.c.request(winter('0612000005', true))).toMatchObject({ verdict: 'allow' });
      for (const c of f.clients()) {
        await waitFor(async () => (await c.request(winter('0612000003')))['verdict'] === 'block', 'the revocation on every sidecar');
        expect(await c.request(winter('0612000004'))).toMatchObject({ verdict: 'block', reason: 'refused_recently' });
        expect(await c.request(winter('0612000005', true))).toMatchObject({ verdict: 'block', reason: 'frequency_cap' });
      }
      const probes = (): NeverAllow[] =>
        f.clients().flatMap((client, i) => [
          { label: `sidecar ${i} revoked consent`, client, request: winter('0612000003') },
          { label: `sidecar ${i} refused`, client, request: winter('0612000004') },
          { label: `sidecar ${i} capped`, client, request: winter('0612000005', true) },
        ]);
      watch = watchNeverAllowed(probes);

      await redis.cli('FLUSHALL');
      await loadAgain(redis, prefix, config);
      const loaded = watch.rounds();
      await waitFor(() => watch!.rounds() > loaded + 20, 'traffic after the load');
      expect(watch.seen()).toEqual([]);
      await waitFor(async () => (await redis.cli('EXISTS', refusedKey(prefix, 33612000004))) === '1', 'the refusal re-published');
      await waitFor(async () => (await redis.cli('ZSCORE', revokedKey(prefix, 'consents'), '33612000003')) !== '', 'the revocation re-published');
      // Back to normal: a valid consent allows on both sidecars again (rules checks resumed after the hold).
      for (const c of f.clients()) await waitFor(async () => (await c.request(winter('0612000010')))['verdict'] === 'allow', 'consents allow again');
      for (const c of f.clients()) {
        expect(await c.request(winter('0612000004'))).toMatchObject({ verdict: 'block', reason: 'refused_recently' });
        expect(await c.request(winter('0612000005', true))).toMatchObject({ verdict: 'block', reason: 'frequency_cap' });
      }
      expect(await watch.stop()).toEqual([]);
      watch = null;
      expect(b.s.alerts.active().map((x) => x.id)).toContain('redis_wiped');
    } finally {
      await watch?.stop();
      await f.stop();
    }
  }, 120_000);
});
