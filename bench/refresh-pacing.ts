/**
 * A refresh under traffic (issue 17 item 3): the p99 of checks sent one at a time while a list refreshes, against
 * the p99 outside refreshes, unpaced and paced (refresh/pacing.ts), and each refresh's duration, with traffic and
 * without. Both modes, interleaved round by round (paced first in every other round).
 *
 * This process is the refreshing sidecar: the real refresher (worker build; Redis mode: generation written to
 * Redis, pointer switched) and a TCP check door answering each line with a check of its current generation
 * (embedded: Bloom filter then exact set; Redis mode: the Redis confirmation of a listed number, as a Bloom hit
 * does). A child process sends those checks one in flight and times them (what a dialer sees: socket, event
 * loop, Redis). In Redis mode a second child is another sidecar: its own store, confirmations one in flight on
 * the same private redis-server, timed in it.
 *
 *   npx tsx bench/refresh-pacing.ts [--size 500000] [--rounds 3] [--outside-ms 2000] [--modes embedded,redis]
 *
 * Prints one JSON line `{figures}`, one value per round:
 *   refresh-pacing.<mode>.<door>.<outside|unpaced|paced>_p99_us   door: self (the refreshing sidecar), other
 *   refresh-pacing.<mode>.<unpaced|paced>_ms, .<unpaced|paced>_quiet_ms   (a refresh with / without traffic)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEmbeddedBackend } from '../src/backends/embedded.js';
import { createGenerationSwitch } from '../src/backends/generation-switch.js';
import { createRedisBackendContext } from '../src/backends/redis-context.js';
import type { ListSpec, RefreshPolicy } from '../src/config/list-spec.js';
import { createLogger } from '../src/core/logger.js';
import { Writable } from 'node:stream';
import { ListRegistry } from '../src/lists/registry.js';
import { e164ToKey } from '../src/numbers/number-key.js';
import { DEFAULT_LOAD_PACING, quantile, type LoadPacing } from '../src/refresh/pacing.js';
import type { ListRefresher } from '../src/refresh/refresh.js';
import { RedisStore } from '../src/redis/store.js';
import { AlertRegistry } from '../src/supervision/alerts.js';
import { installCleanup, stopAll } from './children.js';
import { printFigures } from './figures-line.js';
import { intFlag, modesFlag } from './flags.js';
import { writeSyntheticList } from './gen-list.js';
import { sleep } from './measure-window.js';
import { startPrivateRedis } from './private-redis.js';
import { dropPrefixAndClose } from './redis-prefix.js';
import { roundOrder, Runs } from './rounds.js';
import { SyntheticNumbers } from './synthetic-numbers.js';
import { runMain } from './script-main.js';

const SELF = fileURLToPath(import.meta.url);
const LIST = 'paced';
/** Listed numbers the checks ask about (Bloom hits: in Redis mode each one is confirmed in Redis). */
const PROBE_KEYS = 1000;

type Phase = 'outside' | 'unpaced' | 'paced' | 'quiet';
type ChildMessage = { phase: Phase } | { report: true };
type ChildReply = { ready: true } | { p99: Record<string, number>; n: Record<string, number> };

function listedKeys(seed: number): number[] {
  const gen = new SyntheticNumbers(seed);
  return Array.from({ length: PROBE_KEYS }, (_, i) => e164ToKey(gen.at(i * 7)));
}

/** A child's timing loop: one check at a time, samples filed under the phase the parent last named ('quiet': none sent). */
async function childLoop(check: () => Promise<void>): Promise<void> {
  const samples = new Map<Phase, number[]>();
  let phase: Phase = 'quiet';
  let stopped = false;
  let wake: (() => void) | null = null;
  process.on('message', (m: ChildMessage) => {
    if ('phase' in m) {
      phase = m.phase;
      wake?.();
      return;
    }
    stopped = true;
    wake?.();
  });
  process.send?.({ ready: true } satisfies ChildReply);
  while (!stopped) {
    if (phase === 'quiet') {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      continue;
    }
    const t0 = performance.now();
    await check();
    const us = (performance.now() - t0) * 1000;
    let list = samples.get(phase);
    if (list === undefined) samples.set(phase, (list = []));
    list.push(us);
  }
  const p99: Record<string, number> = {};
  const n: Record<string, number> = {};
  for (const [k, v] of samples) {
    p99[k] = Math.round(quantile(v, 0.99));
    n[k] = v.length;
  }
  process.send?.({ p99, n } satisfies ChildReply, () => process.exit(0));
}

/** Child: checks the parent's door one line at a time. */
async function runClient(port: number): Promise<void> {
  const socket: Socket = createConnection({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let answered: (() => void) | null = null;
  socket.on('data', () => answered?.());
  await childLoop(
    () =>
      new Promise<void>((resolve) => {
        answered = resolve;
        socket.write('\n');
      }),
  );
}

/** Child: another sidecar of the fleet, confirming listed numbers of the current generation one at a time. */
async function runOther(port: number, prefix: string, seed: number): Promise<void> {
  const store = await RedisStore.connect({ url: `redis://127.0.0.1:${port}`, prefix });
  const keys = listedKeys(seed);
  let i = 0;
  let marker = await store.generations.readCurrent(LIST);
  let lastRead = performance.now();
  await childLoop(async () => {
    // A sidecar follows switches within its poll: here, the pointer is read again every second.
    if (marker === null || performance.now() - lastRead > 1000) {
      marker = (await store.generations.readCurrent(LIST)) ?? marker;
      lastRead = performance.now();
    }
    if (marker === null) return;
    await store.confirmer.confirm([{ list: LIST, generation: marker.generation, buckets: marker.buckets, key: keys[i++ % keys.length] as number }]);
  });
}

interface Child {
  readonly proc: ChildProcess;
  send(m: ChildMessage): void;
  report(): Promise<Record<string, number>>;
}

async function startChild(args: string[]): Promise<Child> {
  const proc = fork(SELF, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let reported: ((p99: Record<string, number>) => void) | null = null;
  await new Promise<void>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`child ${args.join(' ')} exited with ${code}`)));
    proc.on('message', (m: ChildReply) => {
      if ('ready' in m) resolve();
      else reported?.(m.p99);
    });
  });
  return {
    proc,
    send: (m) => proc.send(m),
    report: () =>
      new Promise((resolve) => {
        reported = resolve;
        proc.send({ report: true } satisfies ChildMessage);
      }),
  };
}

interface Sidecar {
  readonly refresher: ListRefresher;
  readonly registry: ListRegistry;
  check(i: number): Promise<void>;
  close(): Promise<void>;
}

async function main(): Promise<void> {
  installCleanup();
  const { values } = parseArgs({
    options: { role: { type: 'string' }, port: { type: 'string' }, prefix: { type: 'string' }, size: { type: 'string' }, rounds: { type: 'string' }, seed: { type: 'string' }, 'outside-ms': { type: 'string' }, modes: { type: 'string' } },
    strict: true,
  });
  const seed = intFlag('seed', values.seed, 1);
  if (values.role === 'client') return runClient(Number(values.port));
  if (values.role === 'other') return runOther(Number(values.port), values.prefix as string, seed);
  const size = intFlag('size', values.size, 500_000);
  const rounds = intFlag('rounds', values.rounds, 3);
  const outsideMs = intFlag('outside-ms', values['outside-ms'], 2000);
  const modes = modesFlag(values.modes);
  const dir = mkdtempSync(join(tmpdir(), 'callgate-refresh-pacing-'));
  // Two files of the same size: each refresh installs the other one (an unchanged file is not reloaded).
  const files = [join(dir, 'a.txt'), join(dir, 'b.txt')];
  await writeSyntheticList({ size, seed, out: files[0] as string, formats: 'e164', gzip: false });
  await writeSyntheticList({ size, seed: seed + 1, out: files[1] as string, formats: 'e164', gzip: false });
  const listPath = join(dir, 'list.txt');
  let next = 0;
  const swapFile = (): void => {
    copyFileSync(files[next++ % 2] as string, listPath);
  };
  swapFile();
  let pacing: LoadPacing = DEFAULT_LOAD_PACING;
  const policy: RefreshPolicy = {
    cron: '30 2 * * *',
    timezone: 'Europe/Paris',
    maxAgeDays: 30,
    warnDays: 3,
    maxShrinkRatio: 0.2,
    maxBadLineRatio: 0.01,
    settleMs: 0,
    // Switched between refreshes: the spec is fixed in the registry, the pace is read at each load.
    get pacing(): LoadPacing {
      return pacing;
    },
  };
  const spec: ListSpec = { name: LIST, kind: 'deny', role: null, source: listPath, falsePositiveRate: 0.001, refresh: policy };
  const keys = listedKeys(seed);
  const figures = new Runs();
  const add = (name: string, v: number): void => figures.add(`refresh-pacing.${name}`, Math.round(v));
  const loads: number[] = [];
  const prefix = `bench-pacing-${process.pid}:`;
  let store: RedisStore | null = null;
  let redisPort = 0;
  try {
    if (modes.includes('redis')) {
      redisPort = (await startPrivateRedis()).port;
      store = await RedisStore.connect({ url: `redis://127.0.0.1:${redisPort}`, prefix });
    }
    for (const mode of modes) {
      // The loads' own account of their pace ('list build paced', 'load paced'), echoed to stderr.
      const logger = createLogger({
        level: 'info',
        instanceId: 'bench',
        destination: new Writable({
          write(chunk: Buffer, _enc, done) {
            const line = chunk.toString();
            if (line.includes('"msg":"list build paced"') || line.includes('"msg":"load paced"')) {
              const o = JSON.parse(line) as { msg: string; pacing: Record<string, number> };
              const p = o.pacing;
              process.stderr.write(`  ${mode} ${o.msg}: baseline ${Math.round(p['baselineUs'] ?? 0)} µs target ${Math.round(p['targetUs'] ?? 0)} µs, ${p['decisions']} decisions, ${p['congestions']} congested, ${p['atFloor']} at floor, traffic ${p['trafficShare'] ?? '-'}, paused ${p['pausedMs'] ?? '-'} ms, end chunk ${p['chunk']} pause ${p['pauseMs']}\n`);
            }
            done();
          },
        }),
      });
      const registry = new ListRegistry([spec]);
      let sidecar: Sidecar;
      if (mode === 'embedded') {
        const backend = createEmbeddedBackend({ registry, alerts: new AlertRegistry({ logger }), logger, journalPath: null });
        sidecar = {
          refresher: backend.refresher,
          registry,
          check: async (i) => {
            const state = registry.slot(LIST)?.state;
            const key = keys[i % keys.length] as number;
            if (state != null && state.filter.has(key) && state.members.where === 'memory') state.members.set.has(key);
          },
          close: () => backend.close(),
        };
      } else {
        const s = store as RedisStore;
        const ctx = createRedisBackendContext({ registry, store: s, alerts: new AlertRegistry({ logger }), logger, defaults: { falsePositiveRate: spec.falsePositiveRate, refresh: policy }, instanceId: 'bench' });
        const sw = createGenerationSwitch(ctx, { seedIntraday: async () => {}, checkEpoch: async () => {} });
        sidecar = {
          refresher: sw.refresher,
          registry,
          check: async (i) => {
            const state = registry.slot(LIST)?.state;
            if (state == null || state.members.where !== 'redis') return;
            await s.confirmer.confirm([{ list: LIST, generation: state.generation, buckets: state.members.buckets, key: keys[i % keys.length] as number }]);
          },
          close: async () => {},
        };
      }
      const refresh = async (): Promise<number> => {
        swapFile();
        const t0 = performance.now();
        const outcome = await sidecar.refresher.refresh(LIST, { force: true, trigger: 'admin' });
        if (outcome.status !== 'loaded') throw new Error(`${mode}: refresh ${outcome.status} ${outcome.code ?? ''} ${outcome.message ?? ''}`);
        const ms = performance.now() - t0;
        process.stderr.write(`  ${mode} refresh ${pacing.enabled ? 'paced' : 'unpaced'}: ${Math.round(ms)} ms\n`);
        return ms;
      };
      await refresh();
      // The door: one line in, one check, one line out.
      let served = 0;
      const server: Server = createServer((socket) => {
        socket.setNoDelay(true);
        socket.on('data', () => {
          sidecar.check(served++).then(
            () => socket.write('\n'),
            () => socket.write('\n'),
          );
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const doorPort = (server.address() as { port: number }).port;
      const children: Record<string, Child> = { self: await startChild(['--role', 'client', '--port', String(doorPort)]) };
      if (mode === 'redis') children['other'] = await startChild(['--role', 'other', '--port', String(redisPort), '--prefix', prefix, '--seed', String(seed)]);
      const phase = (p: Phase): void => {
        for (const c of Object.values(children)) c.send({ phase: p });
      };
      for (let r = 0; r < rounds; r++) {
        // Paced: the worker too (--refresh-pacing-worker, off by default), so that its effect stays measured.
        const paced: LoadPacing = { ...DEFAULT_LOAD_PACING, worker: true };
        const order = roundOrder(r, [{ ...DEFAULT_LOAD_PACING, enabled: false }, paced]);
        // Per round, fresh children figures: each child reports once, so a round's phases go to fresh children.
        for (const p of order) {
          const label = p.enabled ? 'paced' : 'unpaced';
          pacing = p;
          phase('outside');
          await sleep(outsideMs);
          phase(label);
          add(`${mode}.${label}_ms`, await refresh());
          phase('quiet');
          add(`${mode}.${label}_quiet_ms`, await refresh());
        }
        phase('outside');
        await sleep(outsideMs);
        phase('quiet');
        for (const [door, c] of Object.entries(children)) {
          const p99 = await c.report();
          for (const k of ['outside', 'unpaced', 'paced']) add(`${mode}.${door}.${k}_p99_us`, p99[k] ?? Number.NaN);
          // The next round's figures come from a fresh child.
          children[door] = await startChild(door === 'self' ? ['--role', 'client', '--port', String(doorPort)] : ['--role', 'other', '--port', String(redisPort), '--prefix', prefix, '--seed', String(seed)]);
        }
        loads.push(loadavg()[0] ?? 0);
        process.stderr.write(`refresh-pacing: ${mode} round ${r + 1}/${rounds} done (load ${loadavg()[0]?.toFixed(2)})\n`);
      }
      for (const c of Object.values(children)) await c.report();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sidecar.close();
    }
  } finally {
    if (store !== null) {
      await dropPrefixAndClose(store, prefix);
    }
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  figures.addAll('refresh-pacing.', { loadavg: loads.map((l) => Math.round(l * 100) / 100) });
  printFigures(figures.toObject());
}

runMain('refresh-pacing', main);
