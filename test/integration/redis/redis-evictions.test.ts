/**
 * Issue 11, items 3 and 4: keys lost behind the sidecar's back (a bucket deleted, evictions after the policy
 * changed at run time) never turn a listed number into an allow, in the deny-lists path (check) and the rules
 * path (check with a campaign: one DECIDE script); an eviction raises an alert and blocks checks that need Redis
 * until accepted (callgate accept-evictions, spawned: run `npm run build` first). Each case runs on its own private redis-server (CONFIG SET is never sent to the shared one).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { e164ToKey } from '../../../src/numbers/number-key.js';
import { bucketPattern, filterKey } from '../../../src/redis/keys.js';
import { memberOf } from '../../../src/redis/bucketing.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { redisCli, startPrivateRedis, type PrivateRedis } from '../../helpers/redis-server.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { tempDir } from '../../helpers/service.js';
import { CLI, waitFor } from '../../helpers/spawn-cli.js';
import { writeConfig } from '../../helpers/config-file.js';

const run = promisify(execFile);

const PREFIX = 'cg:';
/** 6,000 French mobiles (part 33: 30 buckets) and 3 UK mobiles (part 447: a bucket of its own). */
const FRENCH = Array.from({ length: 6_000 }, (_, i) => `+336${String(10_000_000 + i * 397).padStart(8, '0')}`);
const FOREIGN = ['+447911123456', '+447911123457', '+447911123458'];
const LISTED = [...FRENCH, ...FOREIGN];

function config(dir: string): string {
  const list = join(dir, 'bloctel.txt');
  writeFileSync(list, `${LISTED.join('\n')}\n`);
  const file = writeConfig(dir, {
    lists: [{ name: 'bloctel', kind: 'deny', source: list }],
    campaigns: { legacy: { policy: 'fr-optout' } },
  });
  return file;
}

type Verdicts = { allow: string[]; blocked: Map<string, number> };

/** Checks numbers in batches, without (deny-lists path) or with (rules path) a campaign; tallies the answers. */
async function checkAll(client: CheckClient, numbers: readonly string[], campaign: string | null): Promise<Verdicts> {
  const out: Verdicts = { allow: [], blocked: new Map() };
  for (let i = 0; i < numbers.length; i += 1000) {
    const slice = numbers.slice(i, i + 1000);
    const reply = await client.request(campaign === null ? { op: 'check', numbers: slice } : { op: 'check', numbers: slice, campaign });
    const results = reply['results'] as Array<{ verdict: string; reason: string }>;
    expect(results).toHaveLength(slice.length);
    results.forEach((r, j) => {
      if (r.verdict === 'allow') out.allow.push(slice[j] as string);
      else out.blocked.set(r.reason, (out.blocked.get(r.reason) ?? 0) + 1);
    });
  }
  return out;
}

/** The bucket key holding a listed number, found by asking Redis (independent of the bucketing rule). */
async function bucketOf(redis: PrivateRedis, generation: string, e164: string): Promise<string> {
  const keys = (await redis.cli('--scan', '--pattern', bucketPattern(PREFIX, 'bloctel', generation))).split('\n').filter((k) => k.length > 0);
  const member = String(memberOf(e164ToKey(e164)));
  const answers = (await redisCli(redis.url, [], keys.map((k) => `SISMEMBER ${k} ${member}`).join('\n'))).split('\n');
  const at = answers.indexOf('1');
  if (at < 0) throw new Error(`no bucket holds ${e164}`);
  return keys[at] as string;
}

async function membersOf(redis: PrivateRedis, key: string): Promise<Set<number>> {
  return new Set((await redis.cli('SMEMBERS', key)).split('\n').map(Number));
}

describe('keys lost behind the sidecar (private redis-server)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function start(): Promise<{ redis: PrivateRedis; svc: Awaited<ReturnType<typeof startRedisMode>>; client: CheckClient; generation: string }> {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const svc = await startRedisMode(redis.url, PREFIX, ['--config', config(tempDir())]);
    cleanups.push(() => svc.stop());
    const client = await CheckClient.connect(svc.url);
    cleanups.push(() => client.close());
    const generation = svc.registry.slot('bloctel')?.state?.generation as string;
    expect(generation).toBeDefined();
    // Before anything is lost: every listed number blocks as bloctel, on both paths.
    for (const campaign of [null, 'legacy']) {
      const before = await checkAll(client, LISTED, campaign);
      expect(before.allow).toEqual([]);
      expect([...before.blocked]).toEqual([['bloctel', LISTED.length]]);
    }
    return { redis, svc, client, generation };
  }

  it('a deleted bucket reads unconfirmed, never "not listed", on the deny-lists and the rules paths (item 3)', async () => {
    const { redis, client, generation } = await start();
    const french = await bucketOf(redis, generation, FRENCH[123] as string);
    const foreign = await bucketOf(redis, generation, FOREIGN[0] as string);
    const gone = [french, foreign];
    const inGone = new Set<number>();
    for (const key of gone) for (const m of await membersOf(redis, key)) inGone.add(m);
    const hit = LISTED.filter((n) => inGone.has(memberOf(e164ToKey(n))));
    expect(hit.length).toBeGreaterThan(FOREIGN.length);
    await redis.cli('DEL', ...gone);

    for (const campaign of [null, 'legacy']) {
      const after = await checkAll(client, LISTED, campaign);
      // The numbers of the deleted buckets: blocked as unconfirmed (main answered allow for them).
      expect(after.allow).toEqual([]);
      expect(after.blocked.get('unconfirmed')).toBe(hit.length);
      expect(after.blocked.get('bloctel')).toBe(LISTED.length - hit.length);
    }
  });

  it('evictions after maxmemory-policy changed at run time: no listed number allowed, an alert, blocked until accepted (items 3, 4)', async () => {
    const { redis, svc, client, generation } = await start();
    expect(svc.alerts.active().map((a) => a.id)).not.toContain('redis_eviction');
    // Room for the filter (read once, the least recently used key) and a few buckets to go; the marker, read by
    // every check, stays: the case where main read the evicted buckets as "not listed".
    const used = Number(/used_memory:(\d+)/.exec(await redis.cli('INFO', 'memory'))?.[1]);
    const filterBytes = Number(await redis.cli('MEMORY', 'USAGE', filterKey(PREFIX, 'bloctel', generation)));
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    await redis.cli('CONFIG', 'SET', 'maxmemory', String(used - filterBytes - 8_000));
    // Any command runs the evictions; wait until Redis counted some.
    await waitFor(async () => Number(/evicted_keys:(\d+)/.exec(await redis.cli('INFO', 'stats'))?.[1]) > 0, 'evictions');
    for (const campaign of [null, 'legacy']) {
      const after = await checkAll(client, LISTED, campaign);
      expect(after.allow).toEqual([]);
    }
    const alert = await waitFor(() => svc.alerts.active().find((a) => a.id === 'redis_eviction'), 'eviction alert');
    expect(alert).toMatchObject({ kind: 'redis_eviction', severity: 'critical' });

    // Policy back to noeviction: keys were evicted, so checks that need Redis stay blocked...
    await redis.cli('CONFIG', 'SET', 'maxmemory', '0');
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    await svc.store.risks.watchNow();
    expect(svc.store.risks.risk().eviction).toMatch(/evicted/);
    expect(await client.request({ op: 'check', number: FRENCH[0] as string })).toMatchObject({ verdict: 'block', reason: 'unconfirmed' });
    // ...until an operator accepts them (callgate accept-evictions); lost buckets still read unconfirmed.
    const { stdout } = await run(process.execPath, [CLI, 'accept-evictions', '--redis', redis.url, '--redis-prefix', PREFIX], { env: { PATH: process.env['PATH'] ?? '' } });
    expect(stdout).toMatch(/^accepted \d+ evicted keys of Redis server \w+/);
    await svc.store.risks.watchNow();
    expect(svc.store.risks.risk()).toEqual({ eviction: null, format: null, role: null });
    expect(svc.alerts.active().map((a) => a.id)).not.toContain('redis_eviction');
    for (const campaign of [null, 'legacy']) expect((await checkAll(client, LISTED, campaign)).allow).toEqual([]);
  });

  it('a volatile-* policy set at run time blocks checks that need Redis while it lasts; noeviction with nothing evicted clears it (item 4)', async () => {
    const { redis, svc, client } = await start();
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'volatile-lru');
    await waitFor(() => svc.alerts.active().find((a) => a.id === 'redis_eviction'), 'eviction alert');
    expect(await client.request({ op: 'check', number: FRENCH[0] as string })).toMatchObject({ verdict: 'block', reason: 'unconfirmed' });
    expect(await client.request({ op: 'check', number: FRENCH[0] as string, campaign: 'legacy' })).toMatchObject({ verdict: 'block', reason: 'unconfirmed' });
    // A Bloom miss needs no Redis: still answered.
    expect(await client.request({ op: 'check', number: '+33145000000' })).toMatchObject({ verdict: 'allow' });
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    await waitFor(() => !svc.alerts.active().some((a) => a.id === 'redis_eviction'), 'alert cleared');
    expect(await client.request({ op: 'check', number: FRENCH[0] as string })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
  });
});
