/**
 * Redis memory per listed number: callgate's intset buckets vs a plain SADD of number strings, both measured in
 * the same run on a PRIVATE redis-server (the shared one's memory moves with everyone's tests).
 *
 *   node --import tsx bench/redis-memory.ts [--size 1000000] [--baseline-size 1000000]
 *
 * The baseline is loaded with `redis-cli --pipe` (the house rule keeps ioredis inside src/redis/connection.ts),
 * so compare its bytes, not its load time.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { RedisStore } from '../src/redis/store.js';
import { MAX_INTSET_ENTRIES } from '../src/redis/bucketing.js';
import { startPrivateRedis } from '../test/helpers/redis-server.js';
import type { PrivateRedis } from '../test/helpers/redis-server.js';

const { values } = parseArgs({
  options: { size: { type: 'string', default: '1000000' }, 'baseline-size': { type: 'string' } },
});
const size = Number(values.size);
const baselineSize = Number(values['baseline-size'] ?? Math.min(size, 1_000_000));
if (!Number.isSafeInteger(size) || size < 1 || !Number.isSafeInteger(baselineSize) || baselineSize < 1) {
  throw new Error(`--size and --baseline-size must be positive integers, got ${values.size} and ${values['baseline-size']}`);
}

/** n distinct random French numbers (33 + 9 digits, first digit 1-9), sorted. */
function randomKeys(n: number): Float64Array {
  let keys = new Float64Array(0);
  while (keys.length < n) {
    const more = new Float64Array(n - keys.length);
    for (let i = 0; i < more.length; i++) more[i] = 33_100_000_000 + Math.floor(Math.random() * 899_999_999);
    const all = new Float64Array(keys.length + more.length);
    all.set(keys);
    all.set(more, keys.length);
    all.sort();
    let w = 0;
    for (let r = 0; r < all.length; r++) if (r === 0 || all[r] !== all[r - 1]) all[w++] = all[r] as number;
    keys = all.slice(0, w);
  }
  return keys;
}

async function usedMemory(redis: PrivateRedis): Promise<number> {
  const info = await redis.cli('INFO', 'memory');
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match?.[1]) throw new Error('no used_memory in INFO');
  return Number(match[1]);
}

function resp(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

/** SADD of number strings, 1000 per command, through redis-cli --pipe. */
async function loadBaseline(redis: PrivateRedis, keys: Float64Array): Promise<void> {
  const proc = spawn('redis-cli', ['-p', String(redis.port), '--pipe'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const done = new Promise<void>((resolve, reject) =>
    proc.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --pipe exited ${code}`)))),
  );
  for (let i = 0; i < keys.length; i += 1000) {
    const chunk = Array.from(keys.subarray(i, i + 1000), String);
    if (!proc.stdin.write(resp(['SADD', 'baseline', ...chunk]))) await new Promise((r) => proc.stdin.once('drain', r));
  }
  proc.stdin.end();
  await done;
}

const redis = await startPrivateRedis();
const store = await RedisStore.connect({ url: redis.url, prefix: 'bench:' });
try {
  const t0 = performance.now();
  const keys = randomKeys(size);
  const genMs = performance.now() - t0;

  const before = await usedMemory(redis);
  const t1 = performance.now();
  const marker = await store.generations.writeGeneration({
    list: 'bench',
    kind: 'deny',
    keys,
    filter: Buffer.alloc(0),
    normaliserVersion: 'bench',
    hashId: 'none',
    fingerprint: '0'.repeat(64),
  });
  const loadMs = performance.now() - t1;
  const bucketsBytes = (await usedMemory(redis)) - before;

  const scanned = (await redis.cli('--scan', '--pattern', 'bench:gen:*:m:*')).split('\n').filter(Boolean);
  const sample = scanned.filter((_, i) => i % Math.max(1, Math.floor(scanned.length / 50)) === 0).slice(0, 50);
  const encodings = new Set<string>();
  let maxMembers = 0;
  for (const key of sample) {
    encodings.add(await redis.cli('OBJECT', 'ENCODING', key));
    maxMembers = Math.max(maxMembers, Number(await redis.cli('SCARD', key)));
  }
  await store.generations.deleteGeneration('bench', marker.generation);

  const baseKeys = baselineSize === keys.length ? keys : keys.subarray(0, baselineSize);
  const before2 = await usedMemory(redis);
  const t2 = performance.now();
  await loadBaseline(redis, baseKeys);
  const baseMs = performance.now() - t2;
  const baseBytes = (await usedMemory(redis)) - before2;

  const result = {
    redis: (await redis.cli('INFO', 'server')).match(/^redis_version:(\S+)/m)?.[1],
    size,
    keyGenerationMs: Math.round(genMs),
    buckets: { count: marker.buckets, keys: scanned.length, sampleMaxMembers: maxMembers, limit: MAX_INTSET_ENTRIES, encodings: [...encodings] },
    intsetBuckets: { loadMs: Math.round(loadMs), numbersPerSecond: Math.round(size / (loadMs / 1000)), usedMemoryDelta: bucketsBytes, bytesPerNumber: +(bucketsBytes / size).toFixed(2) },
    baselineSadd: { size: baseKeys.length, loadMs: Math.round(baseMs), loader: 'redis-cli --pipe', usedMemoryDelta: baseBytes, bytesPerNumber: +(baseBytes / baseKeys.length).toFixed(2) },
  };
  console.log(JSON.stringify(result, null, 2));
  console.table({
    'intset buckets': { numbers: size, 'load ms': result.intsetBuckets.loadMs, 'B/number': result.intsetBuckets.bytesPerNumber },
    'SADD strings': { numbers: baseKeys.length, 'load ms': result.baselineSadd.loadMs, 'B/number': result.baselineSadd.bytesPerNumber },
  });
} finally {
  await store.close();
  await redis.stop();
}
