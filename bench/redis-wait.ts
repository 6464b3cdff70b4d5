/**
 * What waiting for a replica (redis/durability.ts, --redis-wait-replicas) adds to a `dial` check: the rules script
 * that counts the attempt (decide, what a dial check waits for in Redis mode), with WAIT vs without, same run,
 * against a private master and one replica started here on loopback. Interleaved rounds (off, on, off, on…) so a
 * noisy neighbour hits both alike; figures are medians over rounds. Each call is a fresh consumer (no cap), so every
 * call counts an attempt — the write WAIT then covers.
 *   node --import tsx bench/redis-wait.ts [--rounds 3] [--measure-ms 2000] [--warmup-ms 500] [--timeout-ms 50]
 * Prints one JSON line: { "figures": { "dial-off-1.p99_us": …, "dial-wait-1.p99_us": …, "dial-wait-16.throughput_per_s": … } }.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { RedisStore } from '../src/redis/store.js';
import { DAY_MS } from '../src/core/time.js';
import { installCleanup, stopAll } from './children.js';
import { printFigures } from './figures-line.js';
import { newHistogram, recordMs, summarise } from './hdr.js';
import { measureWindow } from './measure-window.js';
import { startPrivateRedis } from './private-redis.js';
import { median, Runs } from './rounds.js';
import { runMain } from './script-main.js';

const run = promisify(execFile);

async function dialLoop(store: RedisStore, inFlight: number, warmupMs: number, measureMs: number, base: number): Promise<{ p50: number; p99: number; p999: number; perS: number; failed: number }> {
  const hist = newHistogram();
  let measuring = false;
  let stop = false;
  let completed = 0;
  let failed = 0;
  let next = base;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const key = next++;
      const t = performance.now();
      const facts = await store.confirmer.decide({ key, items: [], dial: true, requireConsent: false, jsBlocked: false, cap: null, windowMs: 30 * DAY_MS, refusals: true });
      if (measuring) {
        recordMs(hist, performance.now() - t);
        completed++;
        if (!facts.counted) failed++;
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
  return { p50: s.p50_us, p99: s.p99_us, p999: s.p999_us, perS: completed / seconds, failed };
}

async function main(): Promise<void> {
  installCleanup();
  const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '3' }, 'measure-ms': { type: 'string', default: '2000' }, 'warmup-ms': { type: 'string', default: '500' }, 'timeout-ms': { type: 'string', default: '50' } },
    strict: true,
  });
  const master = await startPrivateRedis();
  const replica = await startPrivateRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  for (let i = 0; i < 200; i++) {
    const { stdout } = await run('redis-cli', ['-p', String(replica.port), 'INFO', 'replication']);
    if (/master_link_status:up/.test(stdout)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const prefix = `bench-wait-${process.pid}:`;
  const common = { url: master.url, prefix, confirmTimeoutMs: 1000 };
  const off = await RedisStore.connect(common);
  const on = await RedisStore.connect({ ...common, waitReplicas: 1, waitTimeoutMs: Number(values['timeout-ms']) });
  const runs = new Runs();
  const add = (name: string, v: number): void => runs.add(name, v);
  try {
    let base = 33_600_000_000;
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const [label, store] of [['off', off], ['wait', on]] as const) {
        for (const inFlight of [1, 16]) {
          const rounds0 = store.durability.rounds;
          const r = await dialLoop(store, inFlight, Number(values['warmup-ms']), Number(values['measure-ms']), base);
          base += 10_000_000;
          if (r.failed > 0) throw new Error(`${label}-${inFlight}: ${r.failed} dial checks not counted`);
          add(`dial-${label}-${inFlight}.p50_us`, r.p50);
          add(`dial-${label}-${inFlight}.p99_us`, r.p99);
          add(`dial-${label}-${inFlight}.p999_us`, r.p999);
          add(`dial-${label}-${inFlight}.throughput_per_s`, r.perS);
          if (label === 'wait') add(`dial-wait-${inFlight}.checks_per_wait`, (r.perS * (Number(values['measure-ms']) + Number(values['warmup-ms'])) / 1000) / Math.max(1, store.durability.rounds - rounds0));
        }
      }
    }
    printFigures(Object.fromEntries([...runs.byName].map(([k, xs]) => [k, median(xs)])));
  } finally {
    await off.close();
    await on.close();
    await stopAll();
  }
}

runMain('redis-wait', main, { exit: true });
