/**
 * A paced load (issue 17 item 3) under traffic completes and writes exactly what an unpaced one writes, and the
 * generation being replaced answers throughout. Pacing is forced to its floor (an absolute target of 1 µs: every
 * decision sees congestion), the slowest it can go, so the test also shows the floor still finishes.
 * Redis mode on the shared Redis (unique prefix); the build worker on a list file.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Membership } from '../../../src/check/verdict.js';
import { RedisStore } from '../../../src/redis/store.js';
import type { GenerationMarker } from '../../../src/redis/codecs.js';
import type { LoadPacerFigures } from '../../../src/redis/load-pacer.js';
import { bucketKey } from '../../../src/redis/keys.js';
import { buildInWorker, type BuildOutcome } from '../../../src/refresh/build-in-worker.js';
import type { LoadPacing } from '../../../src/refresh/pacing.js';
import type { WorkerPaceFigures } from '../../../src/refresh/worker-pace.js';
import { NumberFilter } from '../../../src/lists/bloom.js';
import { FILTER_HASH_ID } from '../../../src/lists/bloom.js';
import { SHARED_REDIS_URL, deletePrefix, uniquePrefix } from '../../helpers/redis.js';

/** The slowest pace: every decision congested, so chunks shrink to one command and pauses grow to the longest. */
const FLOOR: LoadPacing = { enabled: true, worker: true, targetRatio: 1.5, targetUs: 1, maxPauseMs: 5, maxSlowdown: 3 };

function randomKeys(n: number): Float64Array {
  const seen = new Set<number>();
  while (seen.size < n) seen.add(33_600_000_000 + Math.floor(Math.random() * 399_999_999));
  return Float64Array.from([...seen].sort((a, b) => a - b));
}

/** Checks one at a time until stopped (a dialer's traffic), tallying the answers. */
function traffic(check: () => Promise<Membership[]>): { stop(): Promise<Map<Membership, number>> } {
  const tally = new Map<Membership, number>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) for (const a of await check()) tally.set(a, (tally.get(a) ?? 0) + 1);
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return tally;
    },
  };
}

describe('paced load into Redis', () => {
  const prefix = uniquePrefix('cgpace');
  let store: RedisStore;
  beforeAll(async () => {
    // A generous confirmation budget: on a loaded machine a timeout would read 'unconfirmed', not what is tested here.
    store = await RedisStore.connect({ url: SHARED_REDIS_URL, prefix, confirmTimeoutMs: 5000 });
  });
  afterAll(async () => {
    await store.close();
    await deletePrefix(SHARED_REDIS_URL, prefix);
  });

  const write = (keys: Float64Array, filter: Buffer, pacing?: LoadPacing, onPaced?: (f: LoadPacerFigures) => void): Promise<GenerationMarker> =>
    store.generations.writeGeneration({ list: 'paced', kind: 'deny', keys, filter, normaliserVersion: 'n1/test', hashId: FILTER_HASH_ID, fingerprint: randomBytes(32).toString('hex'), pacing, onPaced });

  it('completes under traffic at its floor, writes what an unpaced load writes, and the old generation answers throughout', async () => {
    const old = randomKeys(2000);
    const filterOf = (keys: Float64Array): Buffer => {
      const f = NumberFilter.create(keys.length, 0.001);
      for (const k of keys) f.add(k);
      return f.toBinary();
    };
    const g0 = await write(old, filterOf(old));
    await store.generations.switchCurrent('paced', g0.generation);
    let i = 0;
    const load = traffic(() => store.confirmer.confirm([{ list: 'paced', generation: g0.generation, buckets: g0.buckets, key: old[i++ % old.length] as number }]));
    const keys = randomKeys(40_000);
    const filter = filterOf(keys);
    let figures: LoadPacerFigures | null = null;
    const paced = await write(keys, filter, FLOOR, (f) => (figures = f));
    const tally = await load.stop();
    // The generation being replaced kept answering: every listed number a member, never 'absent'.
    expect(tally.get('absent') ?? 0).toBe(0);
    expect(tally.get('member') ?? 0).toBeGreaterThan(0);
    // The pacing saw the traffic and slowed down.
    const f = figures as LoadPacerFigures | null;
    expect(f).not.toBeNull();
    expect(f?.trafficShare).toBeGreaterThan(0);
    expect(f?.congestions).toBeGreaterThan(0);

    const unpaced = await write(keys, filter);
    expect(paced.count).toBe(unpaced.count);
    expect(paced.buckets).toEqual(unpaced.buckets);
    // Bucket by bucket, the same members.
    const bulk = store.connection.bulk;
    const plan = paced.buckets as { parts: ReadonlyMap<number, number> };
    for (const [high, buckets] of plan.parts) {
      for (let b = 0; b < buckets; b++) {
        const [a, u] = await Promise.all([bulk.smembers(bucketKey(prefix, 'paced', paced.generation, `${high}.${b}`)), bulk.smembers(bucketKey(prefix, 'paced', unpaced.generation, `${high}.${b}`))]);
        expect(a.sort()).toEqual(u.sort());
      }
    }
    expect(await store.generations.readFilter(paced)).toEqual(filter);
    // And it answers: its members are members, others absent.
    const answers = await store.confirmer.confirm([
      ...Array.from(keys.subarray(0, 200), (key) => ({ list: 'paced', generation: paced.generation, buckets: paced.buckets, key })),
      { list: 'paced', generation: paced.generation, buckets: paced.buckets, key: 33_999_999_999 },
    ]);
    expect(answers.slice(0, 200).every((a) => a === 'member')).toBe(true);
    expect(answers[200]).toBe('absent');
  });
});

describe('paced build worker', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'callgate-paced-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('completes at its floor while the main thread is busy and builds what an unpaced build builds', async () => {
    const path = join(dir, 'list.txt');
    const keys = randomKeys(150_000);
    writeFileSync(path, `${Array.from(keys, (k) => `+${k}`).join('\n')}\n`);
    const request = { source: path, previous: null, falsePositiveRate: 0.001, kind: 'deny' as const, settleMs: 0 };
    // The main thread answering checks: busy most of every turn of its event loop.
    let busy = true;
    const spin = (async () => {
      while (busy) {
        const until = performance.now() + 0.5;
        while (performance.now() < until);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    let figures: WorkerPaceFigures | null = null;
    let paced: BuildOutcome;
    try {
      paced = await buildInWorker({ ...request, pacing: FLOOR }, (f) => (figures = f));
    } finally {
      busy = false;
      await spin;
    }
    const f = figures as WorkerPaceFigures | null;
    expect(f?.congestions).toBeGreaterThan(0);
    const unpaced = await buildInWorker(request);
    if (paced.kind !== 'changed' || unpaced.kind !== 'changed') throw new Error('expected both builds to read the list');
    expect(paced.read.fingerprint).toBe(unpaced.read.fingerprint);
    expect(paced.read.keys.length).toBeGreaterThan(100_000);
    expect(Array.from(paced.read.keys)).toEqual(Array.from(unpaced.read.keys));
    expect(paced.built?.filterBinary?.equals(unpaced.built?.filterBinary ?? Buffer.alloc(0))).toBe(true);
  });
});
