/**
 * How many checks per second one Redis serves for the hot-path scripts (issue 16 item 4), measured with many
 * clients: a private redis-server holding one generation (the real layout, written by the store), and several
 * worker processes, each one RedisStore (one confirm connection, as a sidecar has) with many calls in flight,
 * calling the real scripts through the real code (redis/confirm.ts):
 *   confirm        one Bloom hit confirmed (confirm.lua): a deny-lists check whose filter said "maybe"
 *   decide         a rules check, not dialling (decide.lua, read-only): one deny-list item + consumer state
 *   decide-dial    a dial check (decide.lua counting the attempt: a write), a fresh consumer each time
 * Redis's own CPU over the window (INFO cpu) turns the rate into checks per Redis core-second — the figure that
 * extrapolates, since Redis runs scripts on one thread and the clients here share the machine with it.
 *   node --import tsx bench/redis-capacity.ts [--workers 2] [--in-flight 64] [--measure-ms 3000] [--keys 200000]
 * Prints a table and one JSON line { "figures": { "confirm.ops_per_s": …, "confirm.ops_per_redis_core_s": … } }.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify, parseArgs } from 'node:util';
import { RedisStore } from '../src/redis/store.js';
import type { GenerationMarker } from '../src/redis/codecs.js';
import { DAY_MS } from '../src/core/time.js';
import { installCleanup, stopAll } from './children.js';
import { printFigures } from './figures-line.js';
import { startPrivateRedis } from './private-redis.js';
import { runMain } from './script-main.js';

const run = promisify(execFile);
const MODES = ['confirm', 'decide', 'decide-dial'] as const;
type Mode = (typeof MODES)[number];
const BASE = 33_612_000_000;

async function usedMemory(port: number): Promise<number> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'INFO', 'memory']);
  return Number(/^used_memory:(\d+)/m.exec(stdout)?.[1] ?? Number.NaN);
}

async function redisCpuSeconds(port: number): Promise<number> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'INFO', 'cpu']);
  const f = (name: string): number => Number(new RegExp(`^${name}:(\\S+)`, 'm').exec(stdout)?.[1] ?? Number.NaN);
  return f('used_cpu_user') + f('used_cpu_sys');
}

/** A worker: loops the mode's script with `inFlight` calls outstanding for `ms`, prints how many completed. */
async function worker(port: number, prefix: string, mode: Mode, inFlight: number, ms: number, keys: number, seed: number): Promise<void> {
  const store = await RedisStore.connect({ url: `redis://127.0.0.1:${port}`, prefix, confirmTimeoutMs: 5000, maxConfirmsInFlight: 100_000 });
  const marker = (await store.generations.readCurrent('bloctel')) as GenerationMarker;
  let stop = false;
  let done = 0;
  let failed = 0;
  let consumer = 33_700_000_000 + seed * 10_000_000;
  let i = seed;
  const item = (): { list: string; generation: string; buckets: GenerationMarker['buckets']; key: number } => ({
    list: 'bloctel',
    generation: marker.generation,
    buckets: marker.buckets,
    // Every other lookup is listed (even offsets were loaded), as Bloom hits are: members and false positives.
    key: BASE + ((i++ * 7919) % (2 * keys)),
  });
  const loop = async (): Promise<void> => {
    while (!stop) {
      if (mode === 'confirm') {
        const [m] = await store.confirmer.confirm([item()]);
        if (m === 'unconfirmed') failed++;
      } else {
        const it = { ...item(), role: 'deny' as const };
        const facts = await store.confirmer.decide({ key: consumer++, items: [it], dial: mode === 'decide-dial', requireConsent: false, jsBlocked: false, cap: 4, windowMs: 30 * DAY_MS, refusals: true });
        if (!facts.answered) failed++;
      }
      done++;
    }
  };
  const loops = Array.from({ length: inFlight }, () => loop());
  await new Promise((r) => setTimeout(r, ms));
  stop = true;
  await Promise.all(loops);
  await store.close();
  process.stdout.write(`${JSON.stringify({ done, failed })}\n`);
}

function spawnWorker(args: readonly string[]): Promise<{ done: number; failed: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim()) as { done: number; failed: number }) : reject(new Error(`worker exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      worker: { type: 'boolean', default: false },
      port: { type: 'string' },
      prefix: { type: 'string' },
      mode: { type: 'string' },
      seed: { type: 'string', default: '0' },
      workers: { type: 'string', default: '2' },
      'in-flight': { type: 'string', default: '64' },
      'measure-ms': { type: 'string', default: '3000' },
      keys: { type: 'string', default: '200000' },
    },
    strict: true,
  });
  const keys = Number(values.keys);
  const ms = Number(values['measure-ms']);
  const inFlight = Number(values['in-flight']);
  if (values.worker) {
    await worker(Number(values.port), String(values.prefix), values.mode as Mode, inFlight, ms, keys, Number(values.seed));
    return;
  }
  installCleanup();
  const redis = await startPrivateRedis();
  const prefix = `bench-capacity-${process.pid}:`;
  try {
    const store = await RedisStore.connect({ url: redis.url, prefix });
    const members = new Float64Array(keys);
    for (let k = 0; k < keys; k++) members[k] = BASE + 2 * k;
    const marker = await store.generations.writeGeneration({ list: 'bloctel', kind: 'deny', keys: members, filter: Buffer.alloc(1), normaliserVersion: 'bench', hashId: 'bench', fingerprint: 'f'.repeat(64) });
    await store.generations.switchCurrent('bloctel', marker.generation);
    await store.close();
    const figures: Record<string, number> = {};
    const workers = Number(values.workers);
    process.stdout.write(`redis ${redis.version}, ${keys} numbers, ${workers} worker processes × ${inFlight} in flight, ${ms} ms per mode\n`);
    for (const mode of MODES) {
      // The workers connect and read the marker before the window: a short pause, then CPU and time from here.
      const pending = Array.from({ length: workers }, (_, w) => spawnWorker(['--port', String(redis.port), '--prefix', prefix, '--mode', mode, '--in-flight', String(inFlight), '--measure-ms', String(ms), '--keys', String(keys), '--seed', String(w + 1)]));
      const cpu0 = await redisCpuSeconds(redis.port);
      const mem0 = await usedMemory(redis.port);
      const t0 = performance.now();
      const results = await Promise.all(pending);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = ((await redisCpuSeconds(redis.port)) - cpu0) / seconds;
      const done = results.reduce((a, r) => a + r.done, 0);
      const failed = results.reduce((a, r) => a + r.failed, 0);
      const perS = done / (ms / 1000);
      figures[`${mode}.ops_per_s`] = Math.round(perS);
      figures[`${mode}.redis_cpu`] = Number(cpu.toFixed(2));
      figures[`${mode}.ops_per_redis_core_s`] = Math.round((done / seconds) / Math.max(cpu, 0.01));
      figures[`${mode}.failed`] = failed;
      // decide-dial leaves one attempts key per consumer dialled (each call a new consumer): its memory per consumer.
      if (mode === 'decide-dial') figures['consumer_state_bytes'] = Math.round(((await usedMemory(redis.port)) - mem0) / Math.max(1, done));
      process.stdout.write(`${mode.padEnd(12)} ${String(Math.round(perS)).padStart(7)} checks/s  redis CPU ${(cpu * 100).toFixed(0).padStart(3)}%  → ${String(figures[`${mode}.ops_per_redis_core_s`]).padStart(7)} per Redis core-second${failed > 0 ? `  (${failed} unanswered)` : ''}\n`);
    }
    figures['used_memory_mb'] = Number(((await usedMemory(redis.port)) / 1e6).toFixed(1));
    printFigures(figures);
  } finally {
    await stopAll();
  }
}

runMain('redis-capacity', main, { exit: true });
