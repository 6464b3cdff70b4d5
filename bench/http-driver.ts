/**
 * The HTTP load driver (issue 14: "HTTP single check over keep-alive: p99 ≤ 1.5× an HTTP echo server's in
 * the same run"): one kept-alive TCP connection, one request in flight (closed loop), `GET /v1/check?
 * number=…` with off-list numbers in the mixed formats list files use, percent-encoded. The same requests
 * go to the HTTP echo (bench/http-echo-server.ts), so the two p99s differ by callgate's work alone. The
 * client is a raw socket writing the request bytes and reading Content-Length, so that its own cost (the
 * same for both targets) dilutes the ratio as little as possible. With `--server-pid`, also the server's
 * CPU per request over the measured window (from /proc, any target alike): the per-request cost that the
 * latency figures on a loaded machine only hint at.
 *
 * With `--floor-url` (and `--floor-pid`), the floor is measured in the same window: one connection to each,
 * requests alternating in turns of `--block` requests (still one in flight in all), the same requests to both. On a shared 2-core
 * machine the load swings within a second; two windows measured one after the other (or tens of seconds
 * apart, as the CI rounds did) compared two different machines, and a p99 of one request in flight is the
 * share of requests during which the server was preempted. Prints one JSON line on stdout:
 * { "figures": { "http-single.<metric>": value, "floor.http-single.<metric>": value } } (floor.* only with --floor-url).
 *
 *   node --import tsx bench/http-driver.ts --url http://127.0.0.1:P --size N [--seed 1] [--measure-ms 3000]
 *     [--warmup-ms 1000] [--verify] [--server-pid PID] [--floor-url http://127.0.0.1:Q [--floor-pid PID] [--block 1]] (run.ts and http-overhead.ts: --block 4)
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { newHistogram, recordMs, summarise } from './hdr.js';
import { measureWindow } from './measure-window.js';
import { blockE164, missE164, styleAll } from './bench-numbers.js';
import { printFigures } from './figures-line.js';
import { procCpuSeconds } from './proc-stats.js';
import { runMain } from './script-main.js';
import { driverFlags, driverOptions, positiveInt } from './flags.js';
import { FLOOR_PREFIX } from './http-scenario.js';

function log(msg: string): void {
  process.stderr.write(`http-driver: ${msg}\n`);
}

/** One HTTP/1.1 connection, one request at a time; resolves with status and body. */
class KeepAlive {
  readonly #socket: Socket;
  readonly #host: string;
  #buf: Buffer = Buffer.alloc(0);
  #pending: ((r: { status: number; body: string }) => void) | null = null;
  #failed: ((err: Error) => void) | null = null;

  private constructor(socket: Socket, host: string) {
    this.#socket = socket;
    this.#host = host;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('close', () => this.#failed?.(new Error('connection closed')));
    socket.on('error', (err) => this.#failed?.(err));
  }

  static open(port: number): Promise<KeepAlive> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => resolve(new KeepAlive(s, `127.0.0.1:${port}`)));
      s.once('error', reject);
    });
  }

  get(target: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      this.#pending = resolve;
      this.#failed = reject;
      this.#socket.write(`GET ${target} HTTP/1.1\r\nHost: ${this.#host}\r\nAccept: */*\r\n\r\n`);
    });
  }

  close(): void {
    this.#failed = null;
    this.#socket.destroy();
  }

  #onData(d: Buffer): void {
    this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
    const end = this.#buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.#buf.subarray(0, end).toString('latin1');
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (m === null) {
      this.#failed?.(new Error(`reply without Content-Length: ${head.slice(0, 200)}`));
      return;
    }
    const total = end + 4 + Number(m[1]);
    if (this.#buf.length < total) return;
    const body = this.#buf.subarray(end + 4, total).toString('utf8');
    this.#buf = this.#buf.subarray(total);
    const resolve = this.#pending;
    this.#pending = null;
    resolve?.({ status: Number(head.slice(9, 12)), body });
  }
}

/** One side of the measurement: its connection, histogram and server. */
interface Side {
  readonly conn: KeepAlive;
  readonly hist: ReturnType<typeof newHistogram>;
  readonly pid: number | null;
  completed: number;
  errors: number;
  cpu0: number | null;
  cpu1: number | null;
}

function side(conn: KeepAlive, pid: string | undefined): Side {
  return { conn, hist: newHistogram(), pid: pid === undefined ? null : Number(pid), completed: 0, errors: 0, cpu0: null, cpu1: null };
}

function figuresOf(s: Side, seconds: number, prefix: string, name: string): Record<string, number> {
  const sum = summarise(s.hist);
  const figures: Record<string, number> = {
    [`${prefix}http-single.p50_us`]: sum.p50_us,
    [`${prefix}http-single.p99_us`]: sum.p99_us,
    [`${prefix}http-single.throughput_per_s`]: s.completed / seconds,
    [`${prefix}http-single.errors`]: s.errors,
  };
  const cpu = s.cpu0 !== null && s.cpu1 !== null && s.completed > 0 ? ((s.cpu1 - s.cpu0) * 1e6) / s.completed : undefined;
  if (cpu !== undefined) figures[`${prefix}http-single.cpu_us_per_check`] = cpu;
  log(`${name}: p50 ${sum.p50_us} µs, p99 ${sum.p99_us} µs, ${Math.round(s.completed / seconds)}/s${cpu === undefined ? '' : `, server CPU ${cpu.toFixed(1)} µs/request`}`);
  return figures;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...driverOptions({ measureMs: 3000, warmupMs: 1000 }),
      verify: { type: 'boolean', default: false },
      'server-pid': { type: 'string' },
      'floor-url': { type: 'string' },
      'floor-pid': { type: 'string' },
      block: { type: 'string', default: '1' },
    },
    strict: true,
  });
  const { url, size, seed, measureMs, warmupMs } = driverFlags(values);
  const targets = styleAll(missE164(size, seed), seed, 'mixed').map((n) => `/v1/check?number=${encodeURIComponent(n)}`);
  const target = side(await KeepAlive.open(Number(new URL(url).port)), values['server-pid']);
  const floorUrl = values['floor-url'];
  const floor = floorUrl === undefined ? null : side(await KeepAlive.open(Number(new URL(floorUrl).port)), values['floor-pid']);
  if (values.verify) {
    // Against callgate: a listed number blocks, an unlisted one is allowed (a wrong setup measures nothing).
    const listed = await target.conn.get(`/v1/check?number=${encodeURIComponent(blockE164(size, seed, 1)[0] ?? '')}`);
    const unlisted = await target.conn.get(targets[0] ?? '');
    if (listed.status !== 200 || !listed.body.includes('"verdict":"block"')) throw new Error(`verify: listed number answered ${listed.status} ${listed.body}`);
    if (unlisted.status !== 200 || !unlisted.body.includes('"verdict":"allow"')) throw new Error(`verify: unlisted number answered ${unlisted.status} ${unlisted.body}`);
  }
  // Which side goes first alternates turn by turn: neither always follows the other's requests.
  const orders = floor === null ? [[target]] : [[target, floor], [floor, target]];
  const sides = orders[0] as Side[];
  const block = positiveInt('block', values.block);
  let turn = 0;
  let measuring = false;
  let stopping = false;
  let k = 0;
  const loop = (async () => {
    while (!stopping) {
      // The same requests to each side in turn, `block` at a time: both see the same machine within
      // milliseconds, and each server takes requests back to back as on a busy keep-alive connection.
      const from = k;
      k += block;
      for (const s of orders[turn++ % orders.length] as Side[]) {
        for (let i = from; i < k; i++) {
          const t0 = performance.now();
          const r = await s.conn.get(targets[i % targets.length] ?? '/');
          const t1 = performance.now();
          if (r.status !== 200) s.errors++;
          if (measuring) {
            recordMs(s.hist, t1 - t0);
            s.completed++;
          }
        }
      }
    }
  })();
  const seconds = await measureWindow(warmupMs, measureMs, (on) => {
    measuring = on;
    for (const s of sides) {
      if (s.pid === null) continue;
      if (on) s.cpu0 = procCpuSeconds(s.pid);
      else s.cpu1 = procCpuSeconds(s.pid);
    }
  });
  stopping = true;
  await loop;
  for (const s of sides) s.conn.close();
  const figures = figuresOf(target, seconds, '', floor === null ? 'http-single' : 'http-single (target)');
  if (floor !== null) Object.assign(figures, figuresOf(floor, seconds, FLOOR_PREFIX, 'http-single (floor)'));
  printFigures(figures);
}

runMain('http-driver', main);
