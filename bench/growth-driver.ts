/**
 * The growth curve's load driver (bench/growth.ts): one check at a time, in short turns between several
 * targets (one list size and mode each), so that every target's latencies are sampled over the same seconds.
 * On a shared machine a neighbour's burst then hits every size alike, and p99(size) / p99(smallest) compares
 * like with like; one target measured after another swung that ratio from 0.3 to 7.7 within a run (load ~12).
 * Prints one JSON line on stdout: { "figures": { "<label>.<closed-miss|closed-block>.<p50_us|p99_us|…>": value } }.
 *
 *   node --import tsx bench/growth-driver.ts --target embedded@1000000=ws://127.0.0.1:P/ --target … [--seed 1]
 *     [--measure-ms 3000] [--warmup-ms 1000]
 *
 * The label's number after '@' is the target's list size: its listed and unlisted numbers (bench-numbers.ts).
 */
import { parseArgs } from 'node:util';
import { WebSocket, type RawData } from 'ws';
import type { Histogram } from 'hdr-histogram-js';
import { printFigures } from './figures-line.js';
import { newHistogram, recordMs, summarise } from './hdr.js';
import { blockE164, missE164, styleAll } from './bench-numbers.js';
import { runMain } from './script-main.js';

interface Target {
  readonly label: string;
  readonly ws: WebSocket;
  readonly miss: readonly string[];
  readonly block: readonly string[];
  /** The reply awaited (one in flight per target, and one overall). */
  waiting: ((text: string) => void) | null;
}

let nextId = 1;

function open(label: string, url: string, size: number, seed: number): Promise<Target> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const t: Target = { label, ws, miss: styleAll(missE164(size, seed), seed, 'mixed'), block: styleAll(blockE164(size, seed), seed, 'mixed'), waiting: null };
    ws.on('message', (data: RawData) => {
      const w = t.waiting;
      t.waiting = null;
      w?.((data as Buffer).toString('latin1'));
    });
    ws.once('open', () => resolve(t));
    ws.once('error', reject);
  });
}

function ask(t: Target, number: string): Promise<string> {
  return new Promise((resolve) => {
    t.waiting = resolve;
    t.ws.send(`{"id":${nextId++},"op":"check","number":${JSON.stringify(number)}}`);
  });
}

/** A benchmark of a target that answers wrongly measures nothing: listed numbers block, unlisted ones allow. */
async function verify(t: Target): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const b = await ask(t, t.block[i * 97 % t.block.length] ?? '');
    const m = await ask(t, t.miss[i * 89 % t.miss.length] ?? '');
    if (!b.includes('"verdict":"block"') || !m.includes('"verdict":"allow"')) throw new Error(`${t.label} answers wrongly: listed → ${b.slice(0, 200)}; unlisted → ${m.slice(0, 200)}`);
  }
}

/**
 * Checks per turn, and how many of them open it unrecorded. Turns of one check each measured a process woken from
 * sleep every time (p50 50 → 270 µs at load ~13): a server that answers a dialer's steady stream stays awake.
 * A turn of 100 keeps each target in that state and still gives every target a turn every few tens of ms.
 */
const TURN_CHECKS = 100;
const TURN_UNRECORDED = 5;

/** Turns between the targets, one check in flight, for `ms`; the direction alternates so none is always first. */
async function turns(targets: readonly Target[], path: 'miss' | 'block', ms: number, hists: Map<Target, Histogram> | null): Promise<void> {
  const end = performance.now() + ms;
  let n = 0;
  for (let k = 0; performance.now() < end; k++) {
    for (let j = 0; j < targets.length; j++) {
      const t = targets[k % 2 === 0 ? j : targets.length - 1 - j] as Target;
      const numbers = path === 'miss' ? t.miss : t.block;
      for (let c = 0; c < TURN_CHECKS; c++) {
        const sent = performance.now();
        await ask(t, numbers[n++ % numbers.length] ?? '');
        if (hists !== null && c >= TURN_UNRECORDED) recordMs(hists.get(t) as Histogram, performance.now() - sent);
      }
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', multiple: true, default: [] },
      seed: { type: 'string', default: '1' },
      'measure-ms': { type: 'string', default: '3000' },
      'warmup-ms': { type: 'string', default: '1000' },
    },
    strict: true,
  });
  const seed = Number(values.seed);
  const measureMs = Number(values['measure-ms']);
  const warmupMs = Number(values['warmup-ms']);
  const targets: Target[] = [];
  for (const spec of values.target) {
    const eq = spec.indexOf('=');
    const label = spec.slice(0, eq);
    const size = Number(label.slice(label.indexOf('@') + 1));
    if (eq < 0 || !Number.isSafeInteger(size) || size <= 0) throw new Error(`--target expects MODE@SIZE=URL, got ${JSON.stringify(spec)}`);
    targets.push(await open(label, spec.slice(eq + 1), size, seed));
  }
  if (targets.length === 0) throw new Error('at least one --target is required');
  for (const t of targets) await verify(t);
  const figures: Record<string, number> = {};
  for (const path of ['miss', 'block'] as const) {
    await turns(targets, path, warmupMs, null);
    const hists = new Map(targets.map((t) => [t, newHistogram()] as const));
    await turns(targets, path, measureMs, hists);
    for (const t of targets) {
      const s = summarise(hists.get(t) as Histogram);
      for (const [m, v] of [['p50_us', s.p50_us], ['p99_us', s.p99_us], ['p999_us', s.p999_us], ['count', s.count]] as const) figures[`${t.label}.closed-${path}.${m}`] = v;
    }
  }
  for (const t of targets) t.ws.close();
  printFigures(figures);
}

runMain('growth-driver', main, { exit: true });
