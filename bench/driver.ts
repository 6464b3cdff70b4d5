/**
 * The load driver: real WebSocket clients against one target (callgate, or the raw `ws` echo floor), run
 * in its own process so that client and server never share an event loop. Prints one JSON line on stdout:
 * { "figures": { "<scenario>.<metric>": value } }; progress goes to stderr.
 *
 *   node --import tsx bench/driver.ts --url ws://127.0.0.1:P/ --size N [--seed 1] [--measure-ms 3000]
 *     [--warmup-ms 1000] [--open-measure-ms MS] [--rates 5000,20000,50000] [--search] [--verify]
 *
 * Every target gets the same frames; the echo server returns each request unchanged, so its figures are
 * the cost of the WebSocket round trip alone.
 */
import { setPriority } from 'node:os';
import { parseArgs } from 'node:util';
import { WebSocket, type RawData } from 'ws';
import { Redis } from 'ioredis';
import type { Histogram } from 'hdr-histogram-js';
import { newHistogram, recordMs, summarise } from './hdr.js';
import { measureWindow, sleep } from './measure-window.js';
import { blockE164, missE164, styleAll, type NumberStyleChoice } from './bench-numbers.js';
import { printFigures } from './figures-line.js';
import { procCpuSeconds } from './proc-stats.js';
import { runMain } from './script-main.js';
import { driverFlags, driverOptions } from './flags.js';

type Figures = Record<string, number>;

/** Sends and receives on one socket; the reply's id is read without parsing the whole frame. */
class Conn {
  readonly ws: WebSocket;
  readonly sentAt = new Map<number, number>();
  onReply: (conn: Conn, id: number, sentAt: number, now: number, text: string) => void = () => {};
  errors = 0;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: RawData) => this.#onMessage(data));
  }

  static open(url: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
      ws.once('open', () => resolve(new Conn(ws)));
      ws.once('error', reject);
    });
  }

  send(id: number, frame: string, at: number): void {
    this.sentAt.set(id, at);
    this.ws.send(frame);
  }

  #onMessage(data: RawData): void {
    const now = performance.now();
    const text = (data as Buffer).toString('latin1');
    const id = readId(text);
    const sent = id === null ? undefined : this.sentAt.get(id);
    if (id === null || sent === undefined) {
      this.errors++;
      return;
    }
    this.sentAt.delete(id);
    // An error reply is short; a check reply never holds the word "error".
    if (text.length < 400 && text.includes('"error"')) this.errors++;
    this.onReply(this, id, sent, now, text);
  }
}

/** Both callgate and the echo put the numeric id first: `{"id":123,…`. */
function readId(text: string): number | null {
  if (!text.startsWith('{"id":')) return null;
  let v = 0;
  let i = 6;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  return i === 6 ? null : v;
}

let nextId = 1;
const OPEN_LOOP_NICE = 10;
const checkTail = (n: string): string => `,"op":"check","number":${JSON.stringify(n)}}`;
const batchTail = (ns: readonly string[]): string => `,"op":"check","numbers":${JSON.stringify(ns)}}`;
const frame = (id: number, tail: string): string => `{"id":${id}${tail}`;

interface ClosedResult {
  readonly hist: Histogram;
  readonly completed: number;
  readonly seconds: number;
  readonly errors: number;
}

/**
 * Closed loop: `inFlight` requests outstanding, spread over `conns`; each reply sends the next request
 * on its connection. Warm-up first; then latencies and completions are counted for `measureMs`.
 */
async function closedLoop(conns: readonly Conn[], inFlight: number, tails: readonly string[], warmupMs: number, measureMs: number): Promise<ClosedResult> {
  const hist = newHistogram();
  let k = 0;
  let measuring = false;
  let stopping = false;
  let completed = 0;
  let outstanding = 0;
  const errorsBefore = conns.reduce((s, c) => s + c.errors, 0);
  let drained: () => void = () => {};
  const sendNext = (c: Conn): void => {
    const id = nextId++;
    const tail = tails[k++ % tails.length] ?? '';
    outstanding++;
    c.send(id, frame(id, tail), performance.now());
  };
  for (const c of conns) {
    c.onReply = (conn, _id, sentAt, now) => {
      outstanding--;
      if (measuring) {
        recordMs(hist, now - sentAt);
        completed++;
      }
      if (!stopping) sendNext(conn);
      else if (outstanding === 0) drained();
    };
  }
  for (let i = 0; i < inFlight; i++) sendNext(conns[i % conns.length] as Conn);
  const seconds = await measureWindow(warmupMs, measureMs, (on) => {
    measuring = on;
  });
  stopping = true;
  await Promise.race([new Promise<void>((r) => { drained = r; if (outstanding === 0) r(); }), sleep(10_000)]);
  const errors = conns.reduce((s, c) => s + c.errors, 0) - errorsBefore;
  return { hist, completed, seconds, errors };
}

interface OpenResult {
  readonly hist: Histogram;
  readonly lag: Histogram;
  readonly achievedPerS: number;
  readonly lost: number;
  /** Replies received, warm-up included. */
  readonly answered: number;
}

/**
 * Open loop: request i is due at t0 + i/rate whatever happened to earlier ones, and its latency is
 * reply time minus that INTENDED time, so a stall counts against every request it delays (no coordinated
 * omission). `lag` records how late the driver itself sent, to tell a slow driver from a slow server.
 * The driver polls while sends are due (it uses a core): open-loop scenarios run last, at a lowered
 * CPU priority, so that the server (and Redis) win the CPU whenever they have work.
 */
async function openLoop(conns: readonly Conn[], rate: number, tails: readonly string[], warmupMs: number, measureMs: number): Promise<OpenResult> {
  const hist = newHistogram();
  const lag = newHistogram();
  // The first requests at a new rate meet fresh closures (JIT) on both sides: sent, not recorded.
  const skip = Math.round((rate * warmupMs) / 1000);
  const total = skip + Math.max(1, Math.round((rate * measureMs) / 1000));
  const intervalMs = 1000 / rate;
  let sent = 0;
  let received = 0;
  let firstRecorded = Number.MAX_SAFE_INTEGER;
  let lastReply = 0;
  let done: () => void = () => {};
  for (const c of conns) {
    c.onReply = (_c, id, intended, now) => {
      if (id >= firstRecorded) recordMs(hist, now - intended);
      received++;
      lastReply = now;
      if (received === total) done();
    };
  }
  const t0 = performance.now() + 5;
  const finished = new Promise<void>((r) => { done = r; });
  const pump = (): void => {
    const now = performance.now();
    while (sent < total) {
      const intended = t0 + sent * intervalMs;
      if (intended > now) break;
      const id = nextId++;
      const c = conns[sent % conns.length] as Conn;
      if (sent === skip) firstRecorded = id;
      c.send(id, frame(id, tails[sent % tails.length] ?? ''), intended);
      if (sent >= skip) recordMs(lag, now - intended);
      sent++;
    }
    if (sent < total) {
      const wait = t0 + sent * intervalMs - performance.now();
      // Node timers have 1 ms granularity: within 2 ms of a send, poll sockets and the clock in a
      // setImmediate loop. (Tried instead: Atomics.wait slices, which delay the reading of replies, and a
      // worker-thread ticker, whose two chained wake-ups made sends ~0.5–1 ms late.)
      if (wait > 2) setTimeout(pump, wait - 1);
      else setImmediate(pump);
    }
  };
  pump();
  await Promise.race([finished, sleep(warmupMs + measureMs + 10_000)]);
  const lost = total - received;
  for (const c of conns) c.sentAt.clear();
  // Achieved: replies per second over the measured part, from its first intended send to the last reply.
  const measuredFrom = t0 + skip * intervalMs;
  const elapsed = Math.max(lastReply - measuredFrom, measureMs);
  return { hist, lag, achievedPerS: ((received - Math.min(received, skip)) / elapsed) * 1000, lost, answered: received };
}

function latencyFigures(prefix: string, h: Histogram, out: Figures, withMax = true): void {
  const s = summarise(h);
  out[`${prefix}.p50_us`] = s.p50_us;
  out[`${prefix}.p99_us`] = s.p99_us;
  out[`${prefix}.p999_us`] = s.p999_us;
  if (withMax) out[`${prefix}.max_us`] = s.max_us;
}

async function verify(conn: Conn, block: readonly string[], miss: readonly string[]): Promise<void> {
  // A benchmark of a service that answers wrongly measures nothing: check the paths really differ.
  const ask = (n: string): Promise<string> =>
    new Promise((resolve) => {
      const id = nextId++;
      conn.onReply = (_c, _id, _s, _n, text) => resolve(text);
      conn.send(id, frame(id, checkTail(n)), performance.now());
    });
  for (let i = 0; i < 50; i++) {
    const b = JSON.parse(await ask(block[i * 7] ?? '')) as { verdict?: string };
    if (b.verdict !== 'block') throw new Error(`verify: listed number ${block[i * 7]} answered ${JSON.stringify(b)}`);
    const m = JSON.parse(await ask(miss[i * 7] ?? '')) as { verdict?: string };
    if (m.verdict !== 'allow') throw new Error(`verify: unlisted number ${miss[i * 7]} answered ${JSON.stringify(m)}`);
  }
}

function log(msg: string): void {
  process.stderr.write(`  [driver] ${msg}\n`);
}

/**
 * The highest offered rate whose open-loop p99 stays under 1 ms with nothing lost and at least 95% of it
 * achieved: geometric steps up to the first failure, then bisection.
 */
async function searchRate(conns: readonly Conn[], tails: readonly string[], probeMs: number): Promise<number> {
  const passes = async (rate: number): Promise<boolean> => {
    const r = await openLoop(conns, rate, tails, 200, probeMs);
    const p99 = summarise(r.hist).p99_us;
    const ok = r.lost === 0 && p99 < 1000 && r.achievedPerS >= 0.95 * rate;
    log(`search ${rate}/s: p99 ${p99} µs, achieved ${Math.round(r.achievedPerS)}/s ${ok ? 'pass' : 'fail'}`);
    await sleep(200);
    return ok;
  };
  let lo = 0;
  let hi = 0;
  for (let rate = 5000; rate <= 400_000; rate = Math.round(rate * 1.6)) {
    if (await passes(rate)) lo = rate;
    else {
      hi = rate;
      break;
    }
  }
  if (hi === 0) return lo;
  for (let i = 0; i < 3; i++) {
    const mid = Math.round((lo + hi) / 2 / 500) * 500;
    if (mid <= lo || mid >= hi) break;
    if (await passes(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The target's process CPU seconds from its /metrics (prom-client's default metrics); null for a target without it (echo). */
async function serverCpuSeconds(url: string): Promise<number | null> {
  try {
    const res = await fetch(url);
    if (!res.ok) return null;
    const m = /^process_cpu_seconds_total (\S+)$/m.exec(await res.text());
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Script cost measured INSIDE Redis (issue 17), per scenario: SLOWLOG with slower-than 0 logs every command's
 * own duration, and the MEDIAN over the scenario's EVALSHAs is the figure (commandstats' mean is kept too: on a
 * busy machine a descheduled Redis inflates a few scripts by milliseconds, which the mean takes in and the
 * median does not). The commands the scripts called are read from commandstats, per check, to show where the
 * microseconds went. The log's settings are restored after each scenario.
 */
class RedisCost {
  static readonly LOG_LEN = 4096;
  readonly #redis: Redis;
  #saved: [string, string] | null = null;

  constructor(port: number) {
    this.#redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false });
  }

  async start(): Promise<void> {
    if (this.#redis.status !== 'ready') await this.#redis.connect();
    if (this.#saved === null) {
      const [, slower = '10000'] = (await this.#redis.config('GET', 'slowlog-log-slower-than')) as string[];
      const [, len = '128'] = (await this.#redis.config('GET', 'slowlog-max-len')) as string[];
      this.#saved = [slower, len];
    }
    await this.#redis.config('SET', 'slowlog-max-len', String(RedisCost.LOG_LEN));
    await this.#redis.config('SET', 'slowlog-log-slower-than', '0');
    await this.#redis.slowlog('RESET');
    await this.#redis.config('RESETSTAT');
  }

  async read(checks: number): Promise<{ medianUs: number | null; meanUs: number | null; callsPerCheck: number; breakdown: string }> {
    const log = (await this.#redis.slowlog('GET', RedisCost.LOG_LEN)) as Array<[number, number, number, string[]]>;
    const text = await this.#redis.info('commandstats');
    if (this.#saved !== null) {
      await this.#redis.config('SET', 'slowlog-log-slower-than', this.#saved[0]);
      await this.#redis.config('SET', 'slowlog-max-len', this.#saved[1]);
    }
    const durations = log.filter((e) => String(e[3]?.[0] ?? '').toLowerCase() === 'evalsha').map((e) => Number(e[2])).sort((x, y) => x - y);
    const rows: Array<{ cmd: string; calls: number; usec: number }> = [];
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+),/gm)) rows.push({ cmd: m[1] ?? '', calls: Number(m[2]), usec: Number(m[3]) });
    const evalsha = rows.find((r) => r.cmd === 'evalsha');
    const inner = rows.filter((r) => r.calls >= checks / 20 && !['evalsha', 'eval', 'slowlog', 'info', 'ping'].includes(r.cmd) && !r.cmd.startsWith('config')).sort((x, y) => y.usec - x.usec);
    const perCheck = (v: number): string => (v / Math.max(1, checks)).toFixed(2);
    return {
      medianUs: durations.length === 0 ? null : (durations[durations.length >> 1] ?? null),
      meanUs: evalsha === undefined || evalsha.calls === 0 ? null : evalsha.usec / evalsha.calls,
      callsPerCheck: (evalsha?.calls ?? 0) / Math.max(1, checks),
      breakdown: inner.map((r) => `${r.cmd} ${perCheck(r.usec)} µs/${perCheck(r.calls)} calls`).join(', '),
    };
  }

  close(): void {
    this.#redis.disconnect();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...driverOptions({ measureMs: 3000, warmupMs: 1000 }),
      style: { type: 'string', default: 'mixed' },
      'open-measure-ms': { type: 'string' },
      rates: { type: 'string', default: '5000,20000,50000' },
      search: { type: 'boolean', default: false },
      verify: { type: 'boolean', default: false },
      // A campaign under a rules policy (fr-optin) whose consent list holds the miss numbers: adds closed-optin.
      'optin-campaign': { type: 'string' },
      // Only the open-loop scenarios (a variant target compared at fixed rates, e.g. without the audit trail).
      'only-open': { type: 'boolean', default: false },
      // The cost scenarios (issue 17): open loops at this fixed rate, well below saturation, measuring the server's
      // CPU per check (from /proc/<server-pid>: every target alike) and, with --redis-port, the script cost inside
      // Redis: cost-mixed (the loaded mix), cost-block (--open-block: listed numbers only; in Redis mode one
      // confirmation each), cost-optin (--optin-campaign: dials under fr-optin, the rules script each).
      'cost-rate': { type: 'string' },
      'cost-measure-ms': { type: 'string', default: '3000' },
      'server-pid': { type: 'string' },
      'open-block': { type: 'boolean', default: false },
      'redis-port': { type: 'string' },
    },
    strict: true,
  });
  const { url, size, seed, warmupMs, measureMs } = driverFlags(values);
  const openMeasureMs = Number(values['open-measure-ms'] ?? measureMs);
  const rates = values.rates.split(',').filter((s) => s !== '').map(Number);
  const style = values.style as NumberStyleChoice;

  const block = styleAll(blockE164(size, seed), seed, style);
  const miss = styleAll(missE164(size, seed), seed, style);
  // Traffic mix for the loaded scenarios: a dialer's numbers are mostly not on the list; 1 in 10 is.
  const mixed = miss.map((m, i) => (i % 10 === 0 ? (block[i] ?? m) : m));
  const missTails = miss.map(checkTail);
  const blockTails = block.map(checkTail);
  const mixedTails = mixed.map(checkTail);
  const batchTails = (n: number): string[] => {
    const out: string[] = [];
    for (let start = 0; start + n <= mixed.length && out.length < 40; start += n) out.push(batchTail(mixed.slice(start, start + n)));
    return out;
  };

  const conns: Conn[] = [];
  for (let i = 0; i < 8; i++) conns.push(await Conn.open(url));
  const one = conns.slice(0, 1);
  const figures: Figures = {};
  if (values.verify) await verify(one[0] as Conn, block, miss);

  // JIT warm-up on every connection before anything is measured.
  await closedLoop(conns, 64, mixedTails, Math.max(warmupMs, 500), 1);

  const optin = values['optin-campaign'];
  const closed: Array<readonly [string, readonly string[]]> = values['only-open'] ? [] : [['closed-miss', missTails], ['closed-block', blockTails]];
  // A dialer's check under fr-optin: a consenting number, not opposed, dialled now (counted, fleet-wide).
  const optinTails = optin === undefined ? [] : miss.map((n) => `,"op":"check","number":${JSON.stringify(n)},"campaign":${JSON.stringify(optin)},"dial":true}`);
  if (optin !== undefined && !values['only-open']) closed.push(['closed-optin', optinTails]);
  for (const [name, tails] of closed) {
    const r = await closedLoop(one, 1, tails, warmupMs, measureMs);
    latencyFigures(name, r.hist, figures);
    figures[`${name}.rate_per_s`] = r.completed / r.seconds;
    figures[`${name}.errors`] = r.errors;
    log(`${name}: p99 ${figures[`${name}.p99_us`]} µs`);
  }

  for (const inFlight of values['only-open'] ? [] : [64, 256]) {
    for (const nConns of [1, 8]) {
      const r = await closedLoop(conns.slice(0, nConns), inFlight, mixedTails, Math.min(warmupMs, 500), measureMs);
      const name = `inflight-${inFlight}x${nConns}`;
      figures[`${name}.throughput_per_s`] = r.completed / r.seconds;
      figures[`${name}.p99_us`] = summarise(r.hist).p99_us;
      figures[`${name}.errors`] = r.errors;
      log(`${name}: ${Math.round(r.completed / r.seconds)}/s, p99 ${figures[`${name}.p99_us`]} µs`);
    }
  }

  for (const n of values['only-open'] ? [] : [100, 1000]) {
    // Two batches in flight: the server works on one while the client reads the other.
    const r = await closedLoop(one, 2, batchTails(n), Math.min(warmupMs, 500), measureMs);
    const name = `batch-${n}`;
    figures[`${name}.numbers_per_s`] = (r.completed * n) / r.seconds;
    figures[`${name}.p99_us`] = summarise(r.hist).p99_us;
    figures[`${name}.errors`] = r.errors;
    log(`${name}: ${Math.round((r.completed * n) / r.seconds)} numbers/s`);
  }

  // Last, and niced: the polling loop must not take a core from the processes it measures. The
  // priority cannot be raised back without privileges, hence the order.
  setPriority(OPEN_LOOP_NICE);
  const metricsUrl = url.replace(/^ws/, 'http').replace(/\/?$/, '/metrics');
  const costRate = values['cost-rate'] === undefined ? null : Number(values['cost-rate']);
  const serverPid = values['server-pid'] === undefined ? null : Number(values['server-pid']);
  if (costRate !== null && serverPid !== null) {
    const redisCost = values['redis-port'] === undefined ? null : new RedisCost(Number(values['redis-port']));
    const costs: Array<readonly [string, readonly string[]]> = [['cost-mixed', mixedTails]];
    if (values['open-block']) costs.push(['cost-block', blockTails]);
    if (optin !== undefined) costs.push(['cost-optin', optinTails]);
    for (const [name, tails] of costs) {
      await redisCost?.start();
      const cpuBefore = procCpuSeconds(serverPid);
      const r = await openLoop(one, costRate, tails, Math.min(warmupMs, 300), Number(values['cost-measure-ms']));
      const cpuAfter = procCpuSeconds(serverPid);
      if (cpuBefore !== null && cpuAfter !== null) figures[`${name}.cpu_us_per_check`] = ((cpuAfter - cpuBefore) * 1e6) / Math.max(1, r.answered);
      figures[`${name}.p50_us`] = summarise(r.hist).p50_us;
      figures[`${name}.send_lag_p99_us`] = summarise(r.lag).p99_us;
      figures[`${name}.lost`] = r.lost;
      let inside = '';
      if (redisCost !== null && name !== 'cost-mixed') {
        const c = await redisCost.read(r.answered);
        if (c.medianUs !== null) figures[`${name}.redis_script_us`] = c.medianUs;
        if (c.meanUs !== null) figures[`${name}.redis_script_mean_us`] = c.meanUs;
        figures[`${name}.redis_scripts_per_check`] = c.callsPerCheck;
        inside = `; inside Redis median ${c.medianUs ?? '-'} µs (mean ${c.meanUs?.toFixed(1) ?? '-'}), ${c.callsPerCheck.toFixed(2)} scripts per check; per check: ${c.breakdown}`;
      }
      log(`${name} at ${costRate}/s: CPU ${figures[`${name}.cpu_us_per_check`]?.toFixed(1) ?? '-'} µs per check${inside}`);
      await sleep(200);
    }
    redisCost?.close();
  }
  for (const rate of rates) {
    const name = `open-${rate}`;
    const cpuBefore = await serverCpuSeconds(metricsUrl);
    const r = await openLoop(one, rate, mixedTails, Math.min(warmupMs, 300), openMeasureMs);
    const cpuAfter = await serverCpuSeconds(metricsUrl);
    // The server's own CPU per answered check at this rate (warm-up included on both sides of the ratio):
    // what a feature costs at a fixed load, compared between two variants of the server.
    if (cpuBefore !== null && cpuAfter !== null) figures[`${name}.cpu_us_per_check`] = ((cpuAfter - cpuBefore) * 1e6) / Math.max(1, r.answered);
    figures[`${name}.achieved_per_s`] = r.achievedPerS;
    latencyFigures(name, r.hist, figures, false);
    figures[`${name}.lost`] = r.lost;
    figures[`${name}.send_lag_p99_us`] = summarise(r.lag).p99_us;
    log(`${name}: p99 ${figures[`${name}.p99_us`]} µs, achieved ${Math.round(r.achievedPerS)}/s`);
    await sleep(200);
  }
  if (values.search) figures['open-search.max_rate_p99_under_1ms_per_s'] = await searchRate(one, mixedTails, Math.min(measureMs, 2000));

  for (const c of conns) c.ws.close();
  printFigures(figures);
}

runMain('driver', main, { exit: true });
