/**
 * Baseline: a Node client asking Redis directly, `SISMEMBER` per number, against a private redis-server
 * holding the list's numbers as one plain set. What a Redis-mode block path adds cannot be less than this.
 *   node --import tsx bench/redis-direct.ts load --port P --key K --size N [--seed 1]
 *   node --import tsx bench/redis-direct.ts run  --port P --key K --size N [--seed 1] [--measure-ms 3000] [--warmup-ms 1000]
 * `run` prints one JSON line: { "figures": { "sismember-1.p99_us": …, "sismember-64.throughput_per_s": … } }.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { newHistogram, recordMs, summarise } from './hdr.js';
import { measureWindow } from './measure-window.js';
import { blockE164 } from './bench-numbers.js';
import { generateNumbers } from './synthetic-numbers.js';


async function load(redis: Redis, key: string, size: number, seed: number): Promise<void> {
  let chunk: string[] = [];
  let pipeline = redis.pipeline();
  let queued = 0;
  for (const n of generateNumbers(size, seed)) {
    chunk.push(n);
    if (chunk.length === 1000) {
      pipeline.sadd(key, ...chunk);
      chunk = [];
      if (++queued === 50) {
        await pipeline.exec();
        pipeline = redis.pipeline();
        queued = 0;
      }
    }
  }
  if (chunk.length > 0) pipeline.sadd(key, ...chunk);
  await pipeline.exec();
}

async function run(redis: Redis, key: string, members: readonly string[], inFlight: number, warmupMs: number, measureMs: number): Promise<{ p50: number; p99: number; p999: number; max: number; perS: number; misses: number }> {
  const hist = newHistogram();
  let measuring = false;
  let stop = false;
  let completed = 0;
  let misses = 0;
  let k = 0;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const m = members[k++ % members.length] ?? '';
      const t = performance.now();
      const found = await redis.sismember(key, m);
      if (measuring) {
        recordMs(hist, performance.now() - t);
        completed++;
        if (found !== 1) misses++;
      }
    }
  };
  const workers = Array.from({ length: inFlight }, () => worker());
  const seconds = await measureWindow(warmupMs, measureMs, (on) => {
    measuring = on;
  });
  stop = true;
  await Promise.all(workers);
  const s = summarise(hist);
  return { p50: s.p50_us, p99: s.p99_us, p999: s.p999_us, max: s.max_us, perS: completed / seconds, misses };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      port: { type: 'string' },
      key: { type: 'string' },
      size: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'warmup-ms': { type: 'string', default: '1000' },
      'measure-ms': { type: 'string', default: '3000' },
    },
    allowPositionals: true,
    strict: true,
  });
  const size = Number(values.size);
  const seed = Number(values.seed);
  if (values.key === undefined || values.port === undefined) throw new Error('--port and --key are required');
  const redis = new Redis({ host: '127.0.0.1', port: Number(values.port), lazyConnect: true, enableOfflineQueue: false });
  await redis.connect();
  try {
    if (positionals[0] === 'load') {
      await load(redis, values.key, size, seed);
      return;
    }
    const members = blockE164(size, seed);
    const figures: Record<string, number> = {};
    for (const inFlight of [1, 64]) {
      const r = await run(redis, values.key, members, inFlight, Number(values['warmup-ms']), Number(values['measure-ms']));
      // Every member asked is in the set: a miss means the load went wrong, and the figure would lie.
      if (r.misses > 0) throw new Error(`SISMEMBER answered 0 for ${r.misses} listed numbers`);
      figures[`sismember-${inFlight}.p50_us`] = r.p50;
      figures[`sismember-${inFlight}.p99_us`] = r.p99;
      figures[`sismember-${inFlight}.p999_us`] = r.p999;
      figures[`sismember-${inFlight}.throughput_per_s`] = r.perS;
    }
    process.stdout.write(`${JSON.stringify({ figures })}\n`);
  } finally {
    redis.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`redis-direct: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
