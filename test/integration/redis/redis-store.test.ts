/**
 * RedisStore against the real shared Redis (CALLGATE_TEST_REDIS_URL, default redis://127.0.0.1:6379, unique prefix
 * per run; fails loudly when Redis is absent) and against private redis-server processes for faults and settings.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../../src/redis/store.js';
import type { ConfirmItem } from '../../../src/redis/confirm.js';
import type { Membership } from '../../../src/check/verdict.js';
import type { GenerationMarker } from '../../../src/redis/codecs.js';
import { EMPTY_BUCKET_MEMBER, MAX_INTSET_ENTRIES, bucketIndexOf } from '../../../src/redis/bucketing.js';
import { bucketKey, bucketPattern, epochKey, markerKey } from '../../../src/redis/keys.js';
import { isCallgateError } from '../../../src/core/errors.js';
import { DAY_MS } from '../../../src/core/time.js';
import { scriptDigests } from '../../../src/redis/scripts.js';
import { redisCli, startPrivateRedis } from '../../helpers/redis-server.js';
import type { PrivateRedis } from '../../helpers/redis-server.js';

const URL = process.env['CALLGATE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const PREFIX = `cgtest:${randomBytes(6).toString('hex')}:`;
const FINGERPRINT = 'f'.repeat(64);

/** n distinct random French numbers as sorted keys (33 + 9 digits), excluding `not`. */
function randomKeys(n: number, not: ReadonlySet<number> = new Set()): Float64Array {
  const seen = new Set<number>();
  while (seen.size < n) {
    const key = 33_000_000_000 + 100_000_000 + Math.floor(Math.random() * 899_999_999);
    if (!not.has(key)) seen.add(key);
  }
  return Float64Array.from([...seen].sort((a, b) => a - b));
}

async function confirmAll(store: RedisStore, marker: GenerationMarker, keys: ArrayLike<number>): Promise<Map<Membership, number>> {
  const tally = new Map<Membership, number>();
  for (let i = 0; i < keys.length; i += 500) {
    const items: ConfirmItem[] = [];
    for (let j = i; j < Math.min(i + 500, keys.length); j++) {
      items.push({ list: marker.list, generation: marker.generation, buckets: marker.buckets, key: keys[j] as number });
    }
    for (const answer of await store.confirmer.confirm(items)) tally.set(answer, (tally.get(answer) ?? 0) + 1);
  }
  return tally;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCallgateError(err) ? err.code : err).toBe(code);
}

async function until(what: string, deadlineMs: number, test: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('RedisStore on the shared Redis', () => {
  let store: RedisStore;
  const keys = randomKeys(50_000);
  const nonMembers = randomKeys(20_000, new Set(keys));
  const filter = randomBytes(3 * 1024 * 1024 + 17); // several chunks
  let first: GenerationMarker;

  beforeAll(async () => {
    // No skip: an absent Redis fails the suite here with CALLGATE_ERR_REDIS.
    store = await RedisStore.connect({ url: URL, prefix: PREFIX, connectTimeoutMs: 5000, confirmTimeoutMs: 2000 });
  });

  afterAll(async () => {
    const found = await redisCli(URL, ['--scan', '--pattern', `${PREFIX}*`]);
    const all = found.split('\n').filter((k) => k.length > 0);
    for (let i = 0; i < all.length; i += 500) await redisCli(URL, ['UNLINK', ...all.slice(i, i + 500)]);
    await store?.close();
  });

  it('writes, switches and reads a generation of 50k keys', async () => {
    expect(await store.generations.readCurrent('main')).toBeNull();
    first = await store.generations.writeGeneration({
      list: 'main',
      kind: 'deny',
      keys,
      filter,
      normaliserVersion: 'v1',
      hashId: 'test-hash',
      fingerprint: FINGERPRINT,
      sourceDate: '2025-01-31',
    });
    expect(first.count).toBe(50_000);
    // One part (33): 250 buckets of its own.
    expect(first.buckets).toEqual({ total: 250, parts: new Map([[33, 250]]) });
    expect(first.filterBytes).toBe(filter.length);
    // Written but not switched: invisible.
    expect(await store.generations.readCurrent('main')).toBeNull();
    expect(await store.generations.switchCurrent('main', first.generation)).toBeNull();
    expect(await store.generations.readCurrent('main')).toEqual(first);
    expect(await store.generations.currentLists()).toEqual([first]);
    expect((await store.generations.readFilter(first))?.equals(filter)).toBe(true);
  });

  it('confirms every member and every non-member, in order', async () => {
    expect(await confirmAll(store, first, keys)).toEqual(new Map([['member', 50_000]]));
    expect(await confirmAll(store, first, nonMembers)).toEqual(new Map([['absent', 20_000]]));
    const item = (key: number): ConfirmItem => ({ list: 'main', generation: first.generation, buckets: first.buckets, key });
    expect(await store.confirmer.confirm([item(keys[0] as number), item(nonMembers[0] as number), item(keys[49_999] as number)])).toEqual([
      'member',
      'absent',
      'member',
    ]);
    expect(await store.confirmer.confirm([])).toEqual([]);
    // Unknown generation: no marker, so never 'absent'.
    expect(await store.confirmer.confirm([{ ...item(keys[0] as number), generation: 'nope' }])).toEqual(['unconfirmed']);
  });

  it('keeps every bucket an intset of at most 512 members', async () => {
    const bucketKeys = (await redisCli(URL, ['--scan', '--pattern', bucketPattern(PREFIX, 'main', first.generation)]))
      .split('\n')
      .filter((k) => k.length > 0);
    expect(bucketKeys.length).toBe(250);
    const sizes = (await redisCli(URL, [], bucketKeys.map((k) => `SCARD ${k}`).join('\n'))).split('\n').map(Number);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(50_000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_INTSET_ENTRIES);
    const sample = bucketKeys.filter((_, i) => i % 25 === 0);
    const encodings = (await redisCli(URL, [], sample.map((k) => `OBJECT ENCODING ${k}`).join('\n'))).split('\n');
    expect(new Set(encodings)).toEqual(new Set(['intset']));
  });

  it('switches to a second generation and deletes the first', async () => {
    const keys2 = Float64Array.from([...keys.subarray(0, 25_000), ...randomKeys(5_000, new Set(keys))].sort((a, b) => a - b));
    const second = await store.generations.writeGeneration({
      list: 'main',
      kind: 'deny',
      keys: keys2,
      filter: Buffer.alloc(0),
      normaliserVersion: 'v1',
      hashId: 'test-hash',
      fingerprint: FINGERPRINT,
    });
    expect(second.generation).not.toBe(first.generation);
    expect(await store.generations.switchCurrent('main', second.generation)).toBe(first.generation);
    expect(await store.generations.readCurrent('main')).toEqual(second);
    expect(await store.generations.readFilter(second)).toEqual(Buffer.alloc(0));
    expect(await confirmAll(store, second, keys2)).toEqual(new Map([['member', 30_000]]));
    expect(await confirmAll(store, second, keys.subarray(25_000, 30_000))).toEqual(new Map([['absent', 5_000]]));
    // The old generation still answers for readers that hold it...
    expect(await confirmAll(store, first, keys.subarray(40_000, 41_000))).toEqual(new Map([['member', 1_000]]));

    await expectCode(store.generations.deleteGeneration('main', second.generation), 'CALLGATE_ERR_GENERATION_MISMATCH');
    expect(await store.generations.deleteGeneration('main', first.generation)).toBe(250 + 2);
    // ...and once deleted reads 'unconfirmed', never 'absent'.
    expect(await confirmAll(store, first, keys.subarray(0, 2_000))).toEqual(new Map([['unconfirmed', 2_000]]));
    expect(await confirmAll(store, first, nonMembers.subarray(0, 2_000))).toEqual(new Map([['unconfirmed', 2_000]]));
    expect(await store.generations.readFilter(first)).toBeNull();
    await expectCode(store.generations.switchCurrent('main', first.generation), 'CALLGATE_ERR_GENERATION_MISMATCH');

    // Marker gone (evicted, deleted by hand): members and non-members read 'unconfirmed'.
    await redisCli(URL, ['DEL', markerKey(PREFIX, 'main', second.generation)]);
    expect(await confirmAll(store, second, keys2.subarray(0, 2_000))).toEqual(new Map([['unconfirmed', 2_000]]));
    expect(await confirmAll(store, second, nonMembers.subarray(0, 2_000))).toEqual(new Map([['unconfirmed', 2_000]]));
    expect(await store.generations.readCurrent('main')).toBeNull();
    expect(await store.generations.currentLists()).toEqual([]);
  });

  it('writes every bucket of each present part, an empty one as a placeholder, and reads a missing one as unconfirmed', async () => {
    // 201 numbers of part 33 that all fall in bucket 0 of 2: bucket 1 would be empty; and one number of part 590.
    const part33: number[] = [];
    for (let k = 33_612_000_000; part33.length < 201; k++) if (bucketIndexOf(k % 1e9, 2) === 0) part33.push(k);
    const lone = 590_690_123_456;
    const marker = await store.generations.writeGeneration({
      list: 'parts',
      kind: 'deny',
      keys: Float64Array.from([...part33, lone]),
      filter: Buffer.alloc(1),
      normaliserVersion: 'v1',
      hashId: 'h',
      fingerprint: FINGERPRINT,
    });
    expect(marker.buckets).toEqual({ total: 3, parts: new Map([[33, 2], [590, 1]]) });
    const bucket = (id: string): string => bucketKey(PREFIX, 'parts', marker.generation, id);
    expect(await redisCli(URL, ['SMEMBERS', bucket('33.1')])).toBe(String(EMPTY_BUCKET_MEMBER));
    let inEmpty = 33_612_000_000;
    while (bucketIndexOf(inEmpty % 1e9, 2) !== 1) inEmpty++;
    const item = (key: number): ConfirmItem => ({ list: 'parts', generation: marker.generation, buckets: marker.buckets, key });
    // A part with no number has no bucket to read: absent, from the marker alone.
    expect(await store.confirmer.confirm([item(part33[5] as number), item(inEmpty), item(lone), item(590_690_123_457), item(1_212_555_1234)])).toEqual([
      'member',
      'absent',
      'member',
      'absent',
      'absent',
    ]);
    await redisCli(URL, ['DEL', bucket('33.1'), bucket('590.0')]);
    expect(await store.confirmer.confirm([item(inEmpty), item(lone), item(590_690_123_457), item(part33[5] as number), item(1_212_555_1234)])).toEqual([
      'unconfirmed',
      'unconfirmed',
      'unconfirmed',
      'member',
      'absent',
    ]);
  });

  it('rejects unsorted keys and bad names', async () => {
    const base = { list: 'main', kind: 'deny' as const, filter: Buffer.alloc(1), normaliserVersion: 'v1', hashId: 'h', fingerprint: FINGERPRINT };
    await expectCode(store.generations.writeGeneration({ ...base, keys: Float64Array.from([33_612_345_679, 33_612_345_678]) }), 'CALLGATE_ERR_REDIS');
    await expectCode(store.generations.writeGeneration({ ...base, list: 'Bad', keys: new Float64Array(0) }), 'CALLGATE_ERR_LIST_NAME');
  });
});

describe('RedisStore eviction policy', () => {
  let redis: PrivateRedis;
  let noConfig: PrivateRedis;
  const stores: RedisStore[] = [];

  beforeAll(async () => {
    [redis, noConfig] = await Promise.all([startPrivateRedis(), startPrivateRedis(['--rename-command', 'CONFIG', '""'])]);
  });

  afterAll(async () => {
    for (const s of stores) await s.close();
    await Promise.all([redis?.stop(), noConfig?.stop()]);
  });

  it('accepts only noeviction, refuses volatile-* and allkeys-* unless allowed', async () => {
    const store = await RedisStore.connect({ url: redis.url });
    const lenient = await RedisStore.connect({ url: redis.url, allowEviction: true });
    stores.push(store, lenient);
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    await store.risks.checkEvictionPolicy();
    // Refusals and attempt counts carry TTLs: a volatile-* policy may evict them (issue 11, item 4).
    for (const policy of ['volatile-lru', 'volatile-ttl', 'volatile-random', 'volatile-lfu']) {
      await redis.cli('CONFIG', 'SET', 'maxmemory-policy', policy);
      await expectCode(store.risks.checkEvictionPolicy(), 'CALLGATE_ERR_REDIS_EVICTION');
      await lenient.risks.checkEvictionPolicy();
    }
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    await expectCode(store.risks.checkEvictionPolicy(), 'CALLGATE_ERR_REDIS_EVICTION');
    await lenient.risks.checkEvictionPolicy();
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-random');
    await expectCode(store.risks.checkEvictionPolicy(), 'CALLGATE_ERR_REDIS_EVICTION');
  });

  it('falls back to INFO when CONFIG is disabled', async () => {
    const store = await RedisStore.connect({ url: noConfig.url });
    stores.push(store);
    await store.risks.checkEvictionPolicy(); // default noeviction, read through INFO
  });
});

describe('RedisStore faults (private redis-server)', () => {
  let redis: PrivateRedis;
  let store: RedisStore;
  const states: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): void => {
    unhandled.push(err);
  };
  let marker: GenerationMarker;
  const keys = randomKeys(2_000);
  const member = (): ConfirmItem => ({ list: 'f', generation: marker.generation, buckets: marker.buckets, key: keys[7] as number });

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    redis = await startPrivateRedis();
    store = await RedisStore.connect({
      url: redis.url,
      confirmTimeoutMs: 50,
      reconnectMaxDelayMs: 200,
      onStateChange: (s) => states.push(s),
      onError: () => undefined,
    });
    marker = await store.generations.writeGeneration({
      list: 'f',
      kind: 'deny',
      keys,
      filter: Buffer.from('filter'),
      normaliserVersion: 'v1',
      hashId: 'h',
      fingerprint: FINGERPRINT,
    });
    await store.generations.switchCurrent('f', marker.generation);
  });

  afterAll(async () => {
    redis?.signal('SIGCONT');
    await store?.close();
    await redis?.stop();
    process.off('unhandledRejection', onUnhandled);
  });

  it('answers unconfirmed within the timeout while Redis is frozen, then recovers', async () => {
    expect(store.connection.isUp()).toBe(true);
    expect(await store.confirmer.confirm([member()])).toEqual(['member']);
    const capped = await RedisStore.connect({ url: redis.url, confirmTimeoutMs: 50, maxConfirmsInFlight: 2 });
    try {
      redis.signal('SIGSTOP');
      try {
        const started = performance.now();
        expect(await store.confirmer.confirm([member()])).toEqual(['unconfirmed']);
        const elapsed = performance.now() - started;
        expect(elapsed).toBeGreaterThanOrEqual(45);
        expect(elapsed).toBeLessThan(500);
        // Past the in-flight cap, confirms answer at once instead of piling up behind a frozen server.
        const pending = [capped.confirmer.confirm([member()]), capped.confirmer.confirm([member()])];
        const t = performance.now();
        expect(await capped.confirmer.confirm([member()])).toEqual(['unconfirmed']);
        expect(performance.now() - t).toBeLessThan(20);
        expect(await Promise.all(pending)).toEqual([['unconfirmed'], ['unconfirmed']]);
      } finally {
        redis.signal('SIGCONT');
      }
      await until('confirm after SIGCONT', 10_000, async () => (await store.confirmer.confirm([member()]))[0] === 'member');
      await until('capped confirm after SIGCONT', 10_000, async () => (await capped.confirmer.confirm([member()]))[0] === 'member');
    } finally {
      await capped.close();
    }
  });

  it('runs the check scripts again after Redis lost its script cache (SCRIPT FLUSH), a counted attempt counted once', async () => {
    // The scripts go out as EVALSHA; NOSCRIPT (the script did not run) is retried once as EVAL, which caches it again.
    const digests = scriptDigests();
    expect(await store.confirmer.confirm([member()])).toEqual(['member']);
    await redis.cli('SCRIPT', 'FLUSH');
    expect(await store.confirmer.confirm([member(), { ...member(), key: 33_100_000_000 }])).toEqual(['member', 'absent']);
    expect(await redis.cli('SCRIPT', 'EXISTS', digests['cgConfirm'] as string)).toBe('1');
    await redis.cli('SCRIPT', 'FLUSH');
    const consumer = 33_612_345_678;
    const dial = { key: consumer, items: [], requireConsent: false, jsBlocked: false, cap: 4, windowMs: 30 * DAY_MS, refusals: true };
    const counted = await store.confirmer.decide({ ...dial, dial: true });
    expect([counted.answered, counted.counted, counted.attempts]).toEqual([true, true, 0]);
    const after = await store.confirmer.decide({ ...dial, dial: false });
    expect([after.answered, after.counted, after.attempts]).toEqual([true, false, 1]);
    expect(await redis.cli('SCRIPT', 'EXISTS', digests['cgDecide'] as string)).toBe('1');
  });

  it('answers unconfirmed fast while Redis is down, reconnects by itself, and reads a restarted empty Redis as unconfirmed', async () => {
    await redis.stop();
    await until('the store to notice', 5_000, async () => !store.connection.isUp());
    const started = performance.now();
    expect(await store.confirmer.confirm([member()])).toEqual(['unconfirmed']);
    expect(performance.now() - started).toBeLessThan(20);
    await expectCode(store.generations.readCurrent('f'), 'CALLGATE_ERR_REDIS');

    await redis.start();
    await until('reconnection', 15_000, async () => store.connection.isUp());
    // Same store, new empty server: the marker vanished with everything else.
    expect(await store.confirmer.confirm([member()])).toEqual(['unconfirmed']);
    expect(await store.generations.readCurrent('f')).toBeNull();
    expect(states).toEqual(['up', 'down', 'up']);
    expect(unhandled).toEqual([]);
  });
});

describe('RedisStore interrupted load (private redis-server)', () => {
  let redis: PrivateRedis;
  let store: RedisStore;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    store = await RedisStore.connect({ url: redis.url, reconnectMaxDelayMs: 100, onError: () => undefined });
  });

  afterAll(async () => {
    await store?.close();
    await redis?.stop();
  });

  it('leaves a registered, marker-less trace that collectGarbage removes', async () => {
    const keys = randomKeys(300_000);
    const writing = store
      .generations.writeGeneration({ list: 'cut', kind: 'deny', keys, filter: Buffer.alloc(10), normaliserVersion: 'v1', hashId: 'h', fingerprint: FINGERPRINT })
      .then(
        () => 'written',
        (e: unknown) => (isCallgateError(e) ? e.code : e),
      );
    // Cut the loader's connections once some members are in.
    await until('some members', 10_000, async () => Number(await redis.cli('DBSIZE')) > 50);
    await redis.cli('CLIENT', 'KILL', 'TYPE', 'normal');
    expect(await writing).toBe('CALLGATE_ERR_REDIS');
    // Both connections back (isUp() tells only the confirm one's state).
    let trace: { generation: string } | undefined;
    await until('reconnection', 10_000, async () => {
      [trace] = await store.generations.registered('cut').catch(() => []);
      return trace !== undefined;
    });
    expect(trace).toBeDefined();
    const generation = trace?.generation as string;
    expect(await redis.cli('EXISTS', markerKey('callgate:', 'cut', generation))).toBe('0');
    expect(Number(await redis.cli('DBSIZE'))).toBeGreaterThan(2);
    expect(await store.generations.readCurrent('cut')).toBeNull();

    expect(await store.generations.collectGarbage('cut', { graceMs: 0, now: (await store.connection.now()) + 1000 })).toEqual({ deleted: [generation] });
    // Members, filter and registration: nothing of the load is left (the fleet's format key and epoch stay: they are the fleet's).
    expect((await redis.cli('--scan')).split('\n').filter((k) => k.length > 0).sort()).toEqual([epochKey('callgate:'), 'callgate:format'].sort());
  });
});
