/**
 * The lead-file scrub (issue 15 item 1: "a 1,000,000-line lead file through a local gate, numbers per
 * second as a ratio to the gate's batch rate measured in the same run, goal ≥ 0.8×"): `scrubFile` (the
 * code `callgate scrub` runs) over a generated lead file — `;`-separated, a header, every 50th row with a
 * quoted field holding the separator, numbers in the formats lead files use, 1 in 10 on the list —
 * bracketed by the gate's raw batch rate (frames of 1,000 numbers, as many in flight as the scrub keeps)
 * on the same server, same numbers, measured before and after the scrub and averaged, so a load change
 * hits both sides. The file is generated once and cached. Prints one JSON line: { "figures": { … } }.
 *
 *   node --import tsx bench/scrub-driver.ts --url ws://127.0.0.1:P/ --size N [--seed 1] [--lines 1000000] [--file PATH] [--measure-ms 1500]
 */
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket, type RawData } from 'ws';
import { CallgateClient } from '../src/client/index.js';
import { scrubFile } from '../src/scrub/scrub.js';
import { blockE164, missE164, styleAll } from './bench-numbers.js';
import { printFigures } from './figures-line.js';
import { measureWindow } from './measure-window.js';
import { runMain } from './script-main.js';
import { driverFlags, driverOptions } from './flags.js';

const BATCH = 1000;
/** The scrub's default pipeline depth (src/scrub/scrub.ts): the baseline keeps as many batches in flight. */
const IN_FLIGHT = 8;

function log(msg: string): void {
  process.stderr.write(`scrub-driver: ${msg}\n`);
}

function leadNumbers(size: number, seed: number): string[] {
  const block = styleAll(blockE164(size, seed), seed, 'mixed');
  const miss = styleAll(missE164(size, seed), seed, 'mixed');
  return miss.map((m, i) => (i % 10 === 0 ? (block[i] ?? m) : m));
}

async function ensureLeadFile(path: string, lines: number, numbers: readonly string[]): Promise<void> {
  if (existsSync(path)) return;
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.partial-${process.pid}`;
  const out = createWriteStream(partial);
  const write = (text: string): Promise<void> => (out.write(text) ? Promise.resolve() : new Promise((r) => out.once('drain', () => r())));
  await write('id;nom;téléphone;ville;note\n');
  let chunk = '';
  for (let i = 1; i < lines; i++) {
    const note = i % 50 === 0 ? `"rappeler; après ""18h"""` : 'ok';
    chunk += `${i};Client ${i};${numbers[i % numbers.length] as string};Ville ${i % 500};${note}\n`;
    if (chunk.length > 1 << 20) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  renameSync(partial, path);
}

/** The gate's batch rate: raw frames of BATCH numbers, IN_FLIGHT at once, for measureMs after a warm-up. */
async function batchRate(url: string, numbers: readonly string[], warmupMs: number, measureMs: number): Promise<number> {
  const ws = await new Promise<WebSocket>((resolve, reject) => {
    const s = new WebSocket(url, { perMessageDeflate: false });
    s.once('open', () => resolve(s));
    s.once('error', reject);
  });
  const frames: string[] = [];
  for (let start = 0; start + BATCH <= numbers.length && frames.length < 20; start += BATCH) frames.push(`{"id":1,"op":"check","numbers":${JSON.stringify(numbers.slice(start, start + BATCH))}}`);
  let k = 0;
  let measuring = false;
  let stopping = false;
  let completed = 0;
  let outstanding = 0;
  let drained: () => void = () => {};
  const send = (): void => {
    outstanding++;
    ws.send(frames[k++ % frames.length] as string);
  };
  ws.on('message', (_data: RawData) => {
    outstanding--;
    if (measuring) completed++;
    if (!stopping) send();
    else if (outstanding === 0) drained();
  });
  for (let i = 0; i < IN_FLIGHT; i++) send();
  const seconds = await measureWindow(warmupMs, measureMs, (on) => (measuring = on));
  stopping = true;
  await new Promise<void>((r) => {
    drained = r;
    if (outstanding === 0) r();
  });
  ws.close();
  return (completed * BATCH) / seconds;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...driverOptions({ measureMs: 1500, warmupMs: 300 }),
      lines: { type: 'string', default: '1000000' },
      file: { type: 'string' },
    },
    strict: true,
  });
  const { url, size, seed, measureMs, warmupMs } = driverFlags(values);
  const lines = Number(values.lines);
  const numbers = leadNumbers(size, seed);
  const file = values.file ?? join(tmpdir(), `callgate-bench-leads-${lines}-n${size}-s${seed}.csv`);
  const t0 = performance.now();
  await ensureLeadFile(file, lines, numbers);
  log(`lead file ${file} ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const before = await batchRate(url, numbers, warmupMs, measureMs);
  const out = mkdtempSync(join(tmpdir(), 'callgate-bench-scrub-'));
  const client = new CallgateClient({ url, timeoutMs: 60_000, pingIntervalMs: 0 });
  let seconds: number;
  let summary;
  try {
    await client.connected();
    const s0 = performance.now();
    summary = await scrubFile({ input: file, campaign: null, column: null, outDir: out, annotate: false }, client);
    seconds = (performance.now() - s0) / 1000;
  } finally {
    await client.close();
    rmSync(out, { recursive: true, force: true });
  }
  const after = await batchRate(url, numbers, warmupMs, measureMs);
  const baseline = (before + after) / 2;
  const rate = summary.rows / seconds;
  log(`scrub: ${summary.rows} rows in ${seconds.toFixed(2)} s = ${Math.round(rate)}/s (callable ${summary.callable}, blocked ${summary.blocked}, undecided ${summary.undecided}); gate batch rate ${Math.round(before)} → ${Math.round(after)}/s; ratio ${(rate / baseline).toFixed(2)}`);
  printFigures({
    'scrub.numbers_per_s': rate,
    'scrub.batch_numbers_per_s': baseline,
    'scrub.rows': summary.rows,
    'scrub.undecided': summary.undecided,
  });
}

runMain('scrub-driver', main);
