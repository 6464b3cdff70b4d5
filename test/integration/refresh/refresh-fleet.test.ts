/**
 * Refresh in Redis mode across a fleet of sidecars (in process, short timings, real Redis): a refresh
 * on one sidecar switches the others (pub/sub, and polling when the notice is missed), intraday
 * changes travel between sidecars, the guards refuse empty and shrunk lists while the old generation
 * keeps serving everywhere, a killed `callgate load` leaves nothing served and nothing behind after
 * collection, and collection spares the current generation and those a live sidecar still reads.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGeneration } from '../../../src/lists/generation.js';
import { NORMALISER_VERSION } from '../../../src/numbers/normalise.js';
import type { RefreshOutcome } from '../../../src/refresh/refresh.js';
import { eventsChannel, gensKey, markerKey } from '../../../src/redis/keys.js';
import { type GenerationMarker } from '../../../src/redis/codecs.js';
import { RedisStore } from '../../../src/redis/store.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { redisCli, startPrivateRedis } from '../../helpers/redis-server.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { tempDir } from '../../helpers/service.js';
import { CLI, waitFor } from '../../helpers/spawn-cli.js';
import { DAY_MS } from '../../../src/core/time.js';
import { fr, range, writeNumbers } from '../../helpers/list-files.js';

type Sidecar = Awaited<ReturnType<typeof startRedisMode>>;

function keyOf(i: number): number {
  return 33_610_000_000 + i;
}

function generationOf(s: Sidecar, list: string): string | null {
  return s.registry.slot(list)?.state?.generation ?? null;
}

/** Writes a complete deny-list generation of these numbers (as a load elsewhere in the fleet would); does not switch. */
function writeBuilt(store: RedisStore, list: string, indexes: readonly number[]): Promise<GenerationMarker> {
  const built = buildGeneration(Float64Array.from(indexes.map(keyOf)), 0.001);
  return store.generations.writeGeneration({
    list,
    kind: 'deny',
    keys: built.set.keys() as Float64Array,
    filter: built.filter.toBinary(),
    normaliserVersion: NORMALISER_VERSION,
    hashId: built.filter.hashId,
    fingerprint: randomBytes(32).toString('hex'),
    sourceDate: new Date().toISOString(),
  });
}

async function adminPost(s: Sidecar, path: string, body: unknown = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${s.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function verdict(client: CheckClient, i: number): Promise<string> {
  const r = await client.request({ op: 'check', number: fr(i) });
  return `${String(r['verdict'])}/${String(r['reason'])}`;
}

async function keysOf(url: string, pattern: string): Promise<string[]> {
  return (await redisCli(url, ['--scan', '--pattern', pattern])).split('\n').filter((k) => k.length > 0);
}

/** Samples a condition every millisecond; resolves with the time (performance.now()) it first held. */
function firstTime(what: string, test: () => boolean, timeoutMs = 20_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const deadline = performance.now() + timeoutMs;
    const t = setInterval(() => {
      if (test()) {
        clearInterval(t);
        resolve(performance.now());
      } else if (performance.now() > deadline) {
        clearInterval(t);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 1);
  });
}

describe('a fleet of two sidecars on the shared Redis', () => {
  const prefix = uniquePrefix('cgtest-fleet');
  const dir = tempDir();
  const file = join(dir, 'bloctel.txt');
  const config = join(dir, 'callgate.json');
  const OLD = range(0, 100);
  const NEW = range(10, 110);
  let mtime = Date.now() - DAY_MS;
  const open: Array<{ close(): Promise<void> } | Sidecar> = [];
  afterAll(async () => {
    for (const o of open.reverse()) await ('stop' in o ? o.stop() : o.close());
    await deletePrefix(SHARED_REDIS_URL, prefix);
  });

  async function sidecar(id: string): Promise<{ s: Sidecar; client: CheckClient }> {
    const s = await startRedisMode(SHARED_REDIS_URL, prefix, ['--config', config], { instanceId: id, timings: { pollMs: 2000, heartbeatMs: 500 } });
    open.push(s);
    const client = await CheckClient.connect(s.url);
    open.push(client);
    return { s, client };
  }

  it('switches B to A\'s new generation, carries intraday changes both ways, refuses bad lists everywhere', async () => {
    writeNumbers(file, OLD, (mtime += 1000));
    writeFileSync(config, JSON.stringify({ lists: [{ name: 'bloctel', kind: 'deny', source: file }, { name: 'internal', kind: 'deny' }] }));
    const { s: a, client: ca } = await sidecar('sidecar-a');
    const { s: b, client: cb } = await sidecar('sidecar-b');
    const g1 = generationOf(a, 'bloctel');
    expect(g1).not.toBeNull();
    expect(generationOf(b, 'bloctel')).toBe(g1); // taken over, same bytes
    expect(await verdict(cb, 5)).toBe('block/bloctel');

    // A refreshes a changed file; B switches by itself.
    writeNumbers(file, NEW, (mtime += 1000));
    const aSwitched = firstTime('A switched', () => generationOf(a, 'bloctel') !== g1);
    const bSwitched = firstTime('B switched', () => generationOf(b, 'bloctel') !== g1);
    const refreshed = await adminPost(a, '/admin/refresh?list=bloctel');
    expect(refreshed.status).toBe(200);
    const outcome = (refreshed.json['outcomes'] as RefreshOutcome[])[0];
    expect(outcome).toMatchObject({ status: 'loaded', previousGeneration: g1 });
    const g2 = outcome?.generation as string;
    const switchMs = (await bSwitched) - (await aSwitched);
    console.log(`fleet: B switched ${switchMs.toFixed(1)} ms after A (pub/sub, poll every 2000 ms)`);
    expect(switchMs).toBeLessThan(5000);
    expect(generationOf(b, 'bloctel')).toBe(g2);
    const ready = (await (await fetch(`http://127.0.0.1:${b.port}/readyz`)).json()) as { lists: { name: string; generation: string }[] };
    expect(ready.lists.find((l) => l.name === 'bloctel')?.generation).toBe(g2);
    for (const c of [ca, cb]) {
      expect(await verdict(c, 105)).toBe('block/bloctel');
      expect(await verdict(c, 5)).toBe('allow/not_listed');
      expect(await verdict(c, 50)).toBe('block/bloctel');
    }

    // An addition through A blocks on B.
    expect(await verdict(cb, 300)).toBe('allow/not_listed');
    const addStart = performance.now();
    const added = await adminPost(a, '/admin/lists/add', { list: 'bloctel', numbers: [fr(300)], who: 'test' });
    expect(added.status).toBe(200);
    const addAcked = performance.now();
    await waitFor(async () => (await verdict(cb, 300)) === 'block/bloctel', 'B blocks the addition', 10_000, 1);
    const addMs = performance.now() - addStart;
    console.log(`fleet: an addition through A blocked on B ${addMs.toFixed(1)} ms after the request (${(performance.now() - addAcked).toFixed(1)} ms after A acknowledged)`);
    expect(await verdict(ca, 300)).toBe('block/bloctel');

    // Removal on B allows on A (an addition only; the file's numbers stay).
    expect((await adminPost(b, '/admin/lists/remove', { list: 'bloctel', numbers: [fr(300), fr(105)] })).status).toBe(200);
    await waitFor(async () => (await verdict(ca, 300)) === 'allow/not_listed', 'A allows the removed addition', 10_000, 5);
    expect(await verdict(cb, 300)).toBe('allow/not_listed');
    expect(await verdict(ca, 105)).toBe('block/bloctel');

    // Empty, then shrunk: refused on whichever sidecar refreshes; g2 keeps serving on both.
    writeFileSync(file, 'numero\n');
    utimesSync(file, (mtime += 1000) / 1000, mtime / 1000);
    const empty = await adminPost(a, '/admin/refresh?list=bloctel');
    expect(empty.status).toBe(409);
    expect((empty.json['outcomes'] as RefreshOutcome[])[0]).toMatchObject({ status: 'refused', code: 'empty', generation: g2 });
    const alerts = (await (await fetch(`http://127.0.0.1:${a.port}/api/alerts`)).json()) as { alerts: { id: string }[] };
    expect(alerts.alerts.map((x) => x.id)).toContain('refresh_refused:bloctel');
    writeNumbers(file, range(10, 80), (mtime += 1000));
    const shrunk = await adminPost(b, '/admin/refresh?list=bloctel');
    expect(shrunk.status).toBe(409);
    expect((shrunk.json['outcomes'] as RefreshOutcome[])[0]).toMatchObject({ status: 'refused', code: 'shrunk', generation: g2 });
    expect((await a.store.generations.readCurrent('bloctel'))?.generation).toBe(g2);
    await new Promise((r) => setTimeout(r, 300));
    for (const [s, c] of [[a, ca], [b, cb]] as const) {
      expect(generationOf(s, 'bloctel')).toBe(g2);
      expect(await verdict(c, 105)).toBe('block/bloctel');
      expect(await verdict(c, 85)).toBe('block/bloctel');
    }

    // An opt-out recorded before a newer export is superseded by it on both sidecars; one recorded after it stays.
    expect((await adminPost(a, '/admin/lists/add', { list: 'bloctel', numbers: [fr(500)] })).status).toBe(200);
    await waitFor(async () => (await verdict(cb, 500)) === 'block/bloctel', 'B blocks 500', 10_000, 5);
    await new Promise((r) => setTimeout(r, 50));
    writeNumbers(file, range(10, 116), Date.now() - 20);
    await new Promise((r) => setTimeout(r, 50));
    expect((await adminPost(a, '/admin/lists/add', { list: 'bloctel', numbers: [fr(501)] })).status).toBe(200);
    const g3 = await adminPost(b, '/admin/refresh?list=bloctel');
    expect((g3.json['outcomes'] as RefreshOutcome[])[0]).toMatchObject({ status: 'loaded', previousGeneration: g2 });
    const gen3 = (g3.json['outcomes'] as RefreshOutcome[])[0]?.generation as string;
    await waitFor(() => generationOf(a, 'bloctel') === gen3, 'A on the new generation', 10_000, 5);
    for (const c of [ca, cb]) {
      await waitFor(async () => (await verdict(c, 500)) === 'allow/not_listed', 'the superseded opt-out dropped', 10_000, 5);
      expect(await verdict(c, 501)).toBe('block/bloctel');
      expect(await verdict(c, 115)).toBe('block/bloctel');
    }

    // The list without a source: an addition on A blocks on B, and survives B's restart.
    const blocked = await adminPost(a, '/admin/block', { numbers: [fr(400)] });
    expect(blocked).toMatchObject({ status: 200, json: { list: 'internal', op: 'add', count: 1 } });
    await waitFor(async () => (await verdict(cb, 400)) === 'block/internal', 'B blocks the internal addition', 10_000, 5);
    await cb.close();
    await b.stop();
    const { s: b2, client: cb2 } = await sidecar('sidecar-b2');
    expect(await verdict(cb2, 400)).toBe('block/internal');
    expect(generationOf(b2, 'bloctel')).toBe(gen3);
    expect(await verdict(cb2, 501)).toBe('block/bloctel');
    expect((await adminPost(b2, '/admin/unblock', { numbers: [fr(400)] })).status).toBe(200);
    await waitFor(async () => (await verdict(ca, 400)) === 'allow/not_listed', 'A allows after unblock on B', 10_000, 5);
  });
});

describe('a sidecar that missed the switch notice (private redis-server)', () => {
  it('catches up by polling', async () => {
    const redis = await startPrivateRedis();
    const prefix = uniquePrefix('cgtest-miss');
    const dir = tempDir();
    const file = join(dir, 'bloctel.txt');
    writeNumbers(file, range(0, 100), Date.now() - DAY_MS);
    const b = await startRedisMode(redis.url, prefix, ['--list', `bloctel=${file}`], { instanceId: 'sidecar-b', timings: { pollMs: 1000 } });
    const loader = await RedisStore.connect({ url: redis.url, prefix, confirmTimeoutMs: 2000 });
    const client = await CheckClient.connect(b.url);
    try {
      const g1 = generationOf(b, 'bloctel');
      // A generation written by someone else, switched in while B has no subscription.
      const marker = await writeBuilt(loader, 'bloctel', range(10, 110));
      // ioredis waits at least 100 ms before reconnecting a killed subscriber: switch inside that window.
      let subscribers = -1;
      for (let attempt = 0; attempt < 10 && subscribers !== 0; attempt++) {
        await redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
        subscribers = Number((await redis.cli('PUBSUB', 'NUMSUB', eventsChannel(prefix))).split('\n')[1]);
        if (subscribers === 0) await loader.generations.switchCurrent('bloctel', marker.generation);
      }
      expect(subscribers).toBe(0);
      const switchedAt = performance.now();
      await firstTime('B catches up', () => generationOf(b, 'bloctel') === marker.generation, 10_000);
      const ms = performance.now() - switchedAt;
      console.log(`fleet: B missed the notice and caught up by polling in ${ms.toFixed(0)} ms (poll every 1000 ms)`);
      expect(generationOf(b, 'bloctel')).not.toBe(g1);
      expect(await verdict(client, 105)).toBe('block/bloctel');
      expect(await verdict(client, 5)).toBe('allow/not_listed');
      // And its subscription came back: the next switch arrives by notice again.
      await waitFor(async () => Number((await redis.cli('PUBSUB', 'NUMSUB', eventsChannel(prefix))).split('\n')[1]) >= 1, 'resubscribed', 10_000);
    } finally {
      await client.close();
      await loader.close();
      await b.stop();
      await redis.stop();
    }
  });
});

describe('a killed load and garbage collection (shared Redis)', () => {
  const prefixes: string[] = [];
  const newPrefix = (): string => {
    prefixes.push(uniquePrefix('cgtest-gc'));
    return prefixes[prefixes.length - 1] as string;
  };
  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(SHARED_REDIS_URL, p);
  });

  it('a load killed mid-way leaves the current generation serving; collection removes its leftovers', async () => {
    const prefix = newPrefix();
    const dir = tempDir();
    const small = join(dir, 'small.txt');
    writeNumbers(small, range(0, 100), Date.now() - DAY_MS);
    const store = await RedisStore.connect({ url: SHARED_REDIS_URL, prefix, confirmTimeoutMs: 2000 });
    const first = await new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, [CLI, 'load', '--redis', SHARED_REDIS_URL, '--redis-prefix', prefix, '--list-settle-ms', '0', `big=${small}`], { stdio: 'ignore', env: { PATH: process.env['PATH'] ?? '' } });
      p.once('exit', resolve);
    });
    expect(first).toBe(0);
    const current = (await store.generations.readCurrent('big'))?.generation as string;
    const sidecar = await startRedisMode(SHARED_REDIS_URL, prefix, [], { instanceId: 'gc-sidecar', timings: { heartbeatMs: 200 } });
    const client = await CheckClient.connect(sidecar.url);
    try {
      // ~300k numbers (the first 100 among them, so the guards let it through).
      const bigFile = join(dir, 'big.txt');
      writeFileSync(bigFile, `${range(0, 300_000).map(fr).join('\n')}\n`);
      const load = spawn(process.execPath, [CLI, 'load', '--redis', SHARED_REDIS_URL, '--redis-prefix', prefix, '--list-settle-ms', '0', `big=${bigFile}`], { stdio: 'ignore', env: { PATH: process.env['PATH'] ?? '' } });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => load.once('exit', (_code, signal) => resolve(signal)));
      const dead = await waitFor(
        async () => {
          const gens = (await redisCli(SHARED_REDIS_URL, ['ZRANGE', gensKey(prefix, 'big'), '0', '-1'])).split('\n').filter((g) => g.length > 0 && g !== current);
          return gens[0] ?? null;
        },
        'the big load to register its generation',
        60_000,
        10,
      );
      // Mid-way: once some of its members are written, before its marker.
      await waitFor(async () => (await keysOf(SHARED_REDIS_URL, `${prefix}gen:big:${dead}:m:*`)).length > 0, 'the first members of the big load', 60_000, 5);
      load.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      const leftovers = await keysOf(SHARED_REDIS_URL, `${prefix}gen:big:${dead}:*`);
      console.log(`killed load: ${leftovers.length} keys of generation ${dead} left behind`);
      expect(leftovers.length).toBeGreaterThan(0);
      expect(await redisCli(SHARED_REDIS_URL, ['EXISTS', markerKey(prefix, 'big', dead)])).toBe('0');
      expect((await store.generations.readCurrent('big'))?.generation).toBe(current);
      expect(generationOf(sidecar, 'big')).toBe(current);
      expect(await verdict(client, 5)).toBe('block/big');
      expect(await verdict(client, 200_000)).toBe('allow/not_listed');

      const { deleted } = await store.generations.collectGarbage('big', { graceMs: 0 });
      expect(deleted).toEqual([dead]);
      expect(await keysOf(SHARED_REDIS_URL, `${prefix}gen:big:${dead}*`)).toEqual([]);
      expect(await store.generations.registered('big')).toEqual([expect.objectContaining({ generation: current })]);
      expect(await verdict(client, 5)).toBe('block/big');
    } finally {
      await client.close();
      await sidecar.stop();
      await store.close();
    }
  });

  it('collects generations no longer current and read by no live sidecar; keeps the current one and one a live sidecar reads', async () => {
    const prefix = newPrefix();
    const store = await RedisStore.connect({ url: SHARED_REDIS_URL, prefix, confirmTimeoutMs: 2000 });
    const write = async (from: number): Promise<string> => {
      const marker = await writeBuilt(store, 'gc', range(from, from + 50));
      await store.generations.switchCurrent('gc', marker.generation);
      return marker.generation;
    };
    const g1 = await write(0);
    const sidecar = await startRedisMode(SHARED_REDIS_URL, prefix, [], { instanceId: 'gc-reader', timings: { heartbeatMs: 200 } });
    try {
      const g2 = await write(10);
      await waitFor(() => generationOf(sidecar, 'gc') === g2, 'the sidecar on g2', 10_000);
      const g3 = await write(20);
      const g4 = await write(30);
      await waitFor(() => generationOf(sidecar, 'gc') === g4, 'the sidecar on g4', 10_000);
      // Its heartbeat (every 200 ms) names what it reads: wait until it no longer names g2 or g3.
      await waitFor(
        async () => (await store.fleet.liveSidecars()).some((r) => r.id === 'gc-reader' && r.inUse.every((u) => u.list !== 'gc' || u.generation === g4)),
        'the heartbeat of the sidecar naming g4 only',
        10_000,
      );
      // A sidecar that still reads g1 (slow to switch): its heartbeat protects g1 for 1.5 s.
      await store.fleet.heartbeat('slow-reader', [{ list: 'gc', generation: g1 }], 1500);
      const { deleted } = await store.generations.collectGarbage('gc', { graceMs: 0 });
      expect(deleted.sort()).toEqual([g2, g3].sort());
      expect(await redisCli(SHARED_REDIS_URL, ['EXISTS', markerKey(prefix, 'gc', g1)])).toBe('1');
      expect(await redisCli(SHARED_REDIS_URL, ['EXISTS', markerKey(prefix, 'gc', g4)])).toBe('1');
      for (const g of [g2, g3]) expect(await keysOf(SHARED_REDIS_URL, `${prefix}gen:gc:${g}*`)).toEqual([]);
      // Once the slow reader's heartbeat expires, g1 goes too; the current one never does.
      await waitFor(async () => (await store.generations.collectGarbage('gc', { graceMs: 0 })).deleted.includes(g1), 'g1 collected after the heartbeat expired', 10_000, 200);
      expect((await store.generations.registered('gc')).map((g) => g.generation)).toEqual([g4]);
      const client = await CheckClient.connect(sidecar.url);
      expect(await client.request({ op: 'check', number: fr(35) })).toMatchObject({ verdict: 'block', reason: 'gc' });
      expect(await client.request({ op: 'check', number: fr(5) })).toMatchObject({ verdict: 'allow' });
      await client.close();
    } finally {
      await sidecar.stop();
      await store.close();
    }
  });
});
