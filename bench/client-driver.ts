/**
 * The client's overhead (issue 14: "the client's overhead ≤ 10% of the raw socket's throughput at 64 in
 * flight"): callgate driven through the package's client (src/client/) at 64 checks in flight on one
 * connection, against the raw `ws` socket at 64 in flight on one connection, same frames, same server, in
 * the same process and round, interleaved raw → client → raw (the two raw windows averaged) so a load
 * change during the round hits both sides. With `--rounds N` the windows go raw, client, raw, client, …, raw
 * (2N + 1 windows): each client window is compared with the raw windows either side of it. Prints one JSON
 * line: { "figures": { … } }, one value per round; each round's ratio and their median go to stderr.
 *
 *   node --import tsx bench/client-driver.ts --url ws://127.0.0.1:P/ --size N [--seed 1] [--measure-ms 1500] [--warmup-ms 300] [--rounds 1] [--raw-cork]
 *
 * --raw-cork (a diagnosis, not in `npm run bench`): the raw side too sends the frames of one tick in one
 * write, as the client does, so the ratio shows the client's per-check cost without its write coalescing.
 */
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocket, type RawData } from 'ws';
import type { Histogram } from 'hdr-histogram-js';
import { CallgateClient } from '../src/client/index.js';
import { blockE164, missE164, styleAll } from './bench-numbers.js';
import { printFigures } from './figures-line.js';
import { newHistogram, recordMs, summarise } from './hdr.js';
import { measureWindow, sleep } from './measure-window.js';
import { median, Runs } from './rounds.js';
import { runMain } from './script-main.js';
import { driverFlags, driverOptions, positiveInt } from './flags.js';

const IN_FLIGHT = 64;

interface LoopResult {
  readonly hist: Histogram;
  readonly completed: number;
  readonly seconds: number;
  /** Raw: error replies; client: answers that were not the gate's verdict. */
  readonly errors: number;
  /** This process's CPU (user + system) per completed check in the measured window: the driver side's cost, less swayed by load than a rate. */
  readonly cpuUsPerCheck: number;
}

/** measureWindow, also taking this process's CPU time over the measured window. */
async function measureWithCpu(warmupMs: number, measureMs: number, onMeasuring: (on: boolean) => void): Promise<{ seconds: number; cpuUs: number }> {
  let cpu0 = process.cpuUsage();
  let cpuUs = 0;
  const seconds = await measureWindow(warmupMs, measureMs, (on) => {
    if (on) cpu0 = process.cpuUsage();
    else {
      const d = process.cpuUsage(cpu0);
      cpuUs = d.user + d.system;
    }
    onMeasuring(on);
  });
  return { seconds, cpuUs };
}

function log(msg: string): void {
  process.stderr.write(`client-driver: ${msg}\n`);
}

/** Raw: frames built by hand, replies matched by the id read from the frame's head (as bench/driver.ts does). */
async function rawLoop(url: string, numbers: readonly string[], warmupMs: number, measureMs: number, cork: boolean): Promise<LoopResult> {
  let tcp: Socket | null = null;
  const ws = await new Promise<WebSocket>((resolve, reject) => {
    const s = new WebSocket(url, { perMessageDeflate: false });
    s.once('upgrade', (res) => (tcp = res.socket));
    s.once('open', () => resolve(s));
    s.once('error', reject);
  });
  let corked = false;
  const uncork = (): void => {
    corked = false;
    tcp?.uncork();
  };
  const tails = numbers.map((n) => `,"op":"check","number":${JSON.stringify(n)}}`);
  const sentAt = new Map<number, number>();
  const hist = newHistogram();
  let nextId = 1;
  let k = 0;
  let measuring = false;
  let stopping = false;
  let completed = 0;
  let errors = 0;
  let drained: () => void = () => {};
  const send = (): void => {
    const id = nextId++;
    sentAt.set(id, performance.now());
    if (cork && !corked && tcp !== null) {
      corked = true;
      tcp.cork();
      process.nextTick(uncork);
    }
    ws.send(`{"id":${id}${tails[k++ % tails.length] ?? ''}`);
  };
  ws.on('message', (data: RawData) => {
    const now = performance.now();
    const text = (data as Buffer).toString('latin1');
    let id = 0;
    for (let i = 6; i < text.length; i++) {
      const c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      id = id * 10 + c;
    }
    const t = sentAt.get(id);
    if (t === undefined) return;
    sentAt.delete(id);
    if (text.includes('"error"')) errors++;
    if (measuring) {
      recordMs(hist, now - t);
      completed++;
    }
    if (!stopping) send();
    else if (sentAt.size === 0) drained();
  });
  for (let i = 0; i < IN_FLIGHT; i++) send();
  const { seconds, cpuUs } = await measureWithCpu(warmupMs, measureMs, (on) => (measuring = on));
  stopping = true;
  await Promise.race([
    new Promise<void>((r) => {
      drained = r;
      if (sentAt.size === 0) r();
    }),
    sleep(10_000),
  ]);
  ws.close();
  return { hist, completed, seconds, errors, cpuUsPerCheck: cpuUs / Math.max(1, completed) };
}

/** Through the client: 64 callers, each awaiting its check and issuing the next, as 64 dialer lines would. */
async function clientLoop(client: CallgateClient, numbers: readonly string[], warmupMs: number, measureMs: number): Promise<LoopResult> {
  const hist = newHistogram();
  let k = 0;
  let measuring = false;
  let stopping = false;
  let completed = 0;
  let errors = 0;
  const caller = async (): Promise<void> => {
    while (!stopping) {
      const t = performance.now();
      const answer = await client.check(numbers[k++ % numbers.length] ?? '');
      if (answer.error !== undefined) {
        errors++;
        // A fail-fast answer resolves at once: let the event loop run before the next.
        await new Promise((r) => setImmediate(r));
      }
      if (measuring) {
        recordMs(hist, performance.now() - t);
        completed++;
      }
    }
  };
  const callers = Array.from({ length: IN_FLIGHT }, () => caller());
  const { seconds, cpuUs } = await measureWithCpu(warmupMs, measureMs, (on) => (measuring = on));
  stopping = true;
  await Promise.all(callers);
  return { hist, completed, seconds, errors, cpuUsPerCheck: cpuUs / Math.max(1, completed) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...driverOptions({ measureMs: 1500, warmupMs: 300 }),
      rounds: { type: 'string', default: '1' },
      'raw-cork': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const driver = driverFlags(values);
  const { url, size, seed, measureMs } = driver;
  const warmupMs = Math.max(300, driver.warmupMs);
  const rounds = positiveInt('rounds', values.rounds);
  // The loaded mix of bench/driver.ts: 90% off the list, 10% listed, in the formats list files use.
  const block = styleAll(blockE164(size, seed), seed, 'mixed');
  const miss = styleAll(missE164(size, seed), seed, 'mixed');
  const mixed = miss.map((m, i) => (i % 10 === 0 ? (block[i] ?? m) : m));

  const client = new CallgateClient({ url, timeoutMs: 10_000, maxInFlight: IN_FLIGHT });
  await client.connected();
  const rate = (r: LoopResult): number => r.completed / r.seconds;
  const figures = new Runs();
  const add = (name: string, value: number): void => figures.add(name, value);
  const ratios: number[] = [];
  let rawBefore = await rawLoop(url, mixed, warmupMs, measureMs, values['raw-cork']);
  for (let round = 0; round < rounds; round++) {
    const viaClient = await clientLoop(client, mixed, warmupMs, measureMs);
    const rawAfter = await rawLoop(url, mixed, warmupMs, measureMs, values['raw-cork']);
    const rawRate = (rate(rawBefore) + rate(rawAfter)) / 2;
    const clientRate = rate(viaClient);
    add('raw-64x1.throughput_per_s', rawRate);
    add('raw-64x1.p99_us', (summarise(rawBefore.hist).p99_us + summarise(rawAfter.hist).p99_us) / 2);
    add('raw-64x1.errors', rawBefore.errors + rawAfter.errors);
    add('raw-64x1.cpu_us_per_check', (rawBefore.cpuUsPerCheck + rawAfter.cpuUsPerCheck) / 2);
    add('client-64x1.throughput_per_s', clientRate);
    add('client-64x1.p99_us', summarise(viaClient.hist).p99_us);
    add('client-64x1.errors', viaClient.errors);
    add('client-64x1.cpu_us_per_check', viaClient.cpuUsPerCheck);
    ratios.push(clientRate / rawRate);
    const cpu = `driver CPU per check raw ${((rawBefore.cpuUsPerCheck + rawAfter.cpuUsPerCheck) / 2).toFixed(1)} µs, client ${viaClient.cpuUsPerCheck.toFixed(1)} µs`;
    log(`round ${round + 1}/${rounds}: raw ${Math.round(rawRate)}/s, client ${Math.round(clientRate)}/s (${((clientRate / rawRate) * 100).toFixed(1)}%); ${cpu}`);
    rawBefore = rawAfter;
  }
  await client.close();
  log(`client/raw per round ${ratios.map((r) => r.toFixed(3)).join(', ')}; median ${median(ratios).toFixed(3)}`);
  printFigures(figures.toObject());
}

runMain('client-driver', main, { exit: true });
