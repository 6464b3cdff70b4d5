/**
 * Consent terms at list speed (issue 17, item 4): the same numbers loaded as a consent list without
 * terms (a number per line) and with terms (`number;consented_at;source;proof;expires_at`), in both
 * modes, interleaved round by round, through the sidecar's own refresh path: embedded (worker build,
 * installed in memory) and Redis (worker build, generation written to Redis, pointer switched). Also
 * records the event loop's longest stall during each load: checks are answered while a list loads.
 *
 *   npx tsx bench/consent-load.ts [--size 200000] [--rounds 3] [--seed 1] [--redis-port P]
 *
 * Without --redis-port a private redis-server is started (bench/private-redis.ts) and stopped at the end.
 * Prints one JSON line `{figures}`: `consent-load.<mode>.<bare|terms>_ms` and `..._loop_max_ms`, one value per round.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createEmbeddedBackend } from '../src/backends/embedded.js';
import { createGenerationSwitch } from '../src/backends/generation-switch.js';
import { createRedisBackendContext } from '../src/backends/redis-context.js';
import type { ListSpec } from '../src/config/list-spec.js';
import { silentLogger } from '../src/core/logger.js';
import { ListRegistry } from '../src/lists/registry.js';
import { RedisStore } from '../src/redis/store.js';
import { AlertRegistry } from '../src/supervision/alerts.js';
import { installCleanup, stopAll } from './children.js';
import { printFigures } from './figures-line.js';
import { inChunks } from './gen-list.js';
import { intFlag, modesFlag } from './flags.js';
import { startPrivateRedis } from './private-redis.js';
import { dropPrefixAndClose } from './redis-prefix.js';
import { roundOrder, Runs } from './rounds.js';
import { SyntheticNumbers } from './synthetic-numbers.js';
import { runMain } from './script-main.js';

/** A consent list file: bare numbers, or numbers with terms as CRM exports write them (dates, channel, proof, expiry). */
async function writeConsents(path: string, size: number, seed: number, withTerms: boolean): Promise<void> {
  const gen = new SyntheticNumbers(seed);
  function* lines(): Generator<string> {
    yield withTerms ? 'number;consented_at;source;proof;expires_at' : 'number';
    for (let i = 0; i < size; i++) {
      const n = gen.at(i);
      if (!withTerms) {
        yield n;
        continue;
      }
      const day = String(1 + (i % 28)).padStart(2, '0');
      const month = String(1 + (i % 12)).padStart(2, '0');
      // A mix of the date forms a CRM writes: date only, Paris wall time, UTC.
      const at = i % 3 === 0 ? `2026-${month}-${day}` : i % 3 === 1 ? `2026-${month}-${day} 14:03` : `2026-${month}-${day}T12:03:00Z`;
      yield `${n};${at};web:signup-form-v3;crm://proofs/${i.toString(36)};2029-${month}-${day}`;
    }
  }
  await pipeline(Readable.from(inChunks(lines())), createWriteStream(path));
}

function consentSpec(name: string, source: string): ListSpec {
  return {
    name,
    kind: 'allow',
    role: 'consent',
    source,
    falsePositiveRate: 0.001,
    // No settle wait: the files were written just before, and the wait is not what is measured.
    refresh: { cron: '30 2 * * *', timezone: 'Europe/Paris', maxAgeDays: 30, warnDays: 3, maxShrinkRatio: 0.2, maxBadLineRatio: 0.01, settleMs: 0 },
  };
}

interface Timed {
  readonly ms: number;
  readonly loopMaxMs: number;
}

/** Runs one load, timing it and the event loop's longest stall meanwhile (sampled every 10 ms). */
async function timed(load: () => Promise<void>): Promise<Timed> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const t0 = performance.now();
  await load();
  const ms = performance.now() - t0;
  h.disable();
  return { ms, loopMaxMs: h.max / 1e6 };
}

async function loadEmbedded(spec: ListSpec): Promise<void> {
  const logger = silentLogger();
  const registry = new ListRegistry([spec]);
  const backend = createEmbeddedBackend({ registry, alerts: new AlertRegistry({ logger }), logger, journalPath: null });
  await backend.start();
  if (registry.current.slots[0]?.state == null) throw new Error(`embedded: ${spec.name} did not load: ${backend.lastError(spec.name) ?? '?'}`);
  await backend.close();
}

async function loadRedis(store: RedisStore, spec: ListSpec): Promise<void> {
  const logger = silentLogger();
  const registry = new ListRegistry([spec]);
  const ctx = createRedisBackendContext({ registry, store, alerts: new AlertRegistry({ logger }), logger, defaults: { falsePositiveRate: spec.falsePositiveRate, refresh: spec.refresh }, instanceId: 'bench' });
  const sw = createGenerationSwitch(ctx, { seedIntraday: async () => {}, checkEpoch: async () => {} });
  const outcome = await sw.refresher.refresh(spec.name, { force: true, trigger: 'admin' });
  if (outcome.status !== 'loaded') throw new Error(`redis: ${spec.name} did not load: ${outcome.status} ${outcome.message ?? ''}`);
}

async function main(): Promise<void> {
  installCleanup();
  const { values } = parseArgs({ options: { size: { type: 'string' }, rounds: { type: 'string' }, seed: { type: 'string' }, 'redis-port': { type: 'string' }, modes: { type: 'string' } }, strict: true });
  const size = intFlag('size', values.size, 200_000);
  const rounds = intFlag('rounds', values.rounds, 3);
  const seed = intFlag('seed', values.seed, 1);
  const modes = modesFlag(values.modes);
  const dir = mkdtempSync(join(tmpdir(), 'callgate-consent-load-'));
  const bare = join(dir, 'bare.csv');
  const terms = join(dir, 'terms.csv');
  await writeConsents(bare, size, seed, false);
  await writeConsents(terms, size, seed, true);
  const figures = new Runs();
  const add = (name: string, t: Timed): void => {
    figures.add(`consent-load.${name}_ms`, Math.round(t.ms));
    figures.add(`consent-load.${name}_loop_max_ms`, Math.round(t.loopMaxMs));
  };
  let store: RedisStore | null = null;
  const prefix = `bench-consent-${process.pid}:`;
  try {
    if (modes.includes('redis')) {
      const port = values['redis-port'] === undefined ? (await startPrivateRedis()).port : Number(values['redis-port']);
      store = await RedisStore.connect({ url: `redis://127.0.0.1:${port}`, prefix });
    }
    for (let r = 0; r < rounds; r++) {
      // Alternating which goes first, so a warm-up or a neighbour's burst does not favour one side.
      for (const [label, path] of roundOrder(r, [['bare', bare], ['terms', terms]] as const)) {
        if (modes.includes('embedded')) add(`embedded.${label}`, await timed(() => loadEmbedded(consentSpec(`c-${label}`, path))));
        if (store !== null) add(`redis.${label}`, await timed(() => loadRedis(store as RedisStore, consentSpec(`c-${label}`, path))));
        process.stderr.write(`consent-load: round ${r + 1}/${rounds} ${label} done\n`);
      }
    }
  } finally {
    if (store !== null) {
      await dropPrefixAndClose(store, prefix);
    }
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  printFigures(figures.toObject());
}

runMain('consent-load', main);
