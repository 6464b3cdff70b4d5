/**
 * The HTTP load driver (issue 14: "HTTP single check over keep-alive: p99 ≤ 1.5× an HTTP echo server's in
 * the same run"): one kept-alive TCP connection, one request in flight (closed loop), `GET /v1/check?
 * number=…` with off-list numbers in the mixed formats list files use, percent-encoded. The same requests
 * go to the HTTP echo (bench/http-echo-server.ts), so the two p99s differ by callgate's work alone. The
 * client is a raw socket writing the request bytes and reading Content-Length, so that its own cost (the
 * same for both targets) dilutes the ratio as little as possible. With `--server-pid`, also the server's
 * CPU per request over the measured window (from /proc, any target alike): the per-request cost that the
 * latency figures on a loaded machine only hint at. Prints one JSON line on stdout:
 * { "figures": { "http-single.<metric>": value } }.
 *
 *   node --import tsx bench/http-driver.ts --url http://127.0.0.1:P --size N [--seed 1] [--measure-ms 3000]
 *     [--warmup-ms 1000] [--verify] [--server-pid PID]
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { newHistogram, recordMs, summarise } from './hdr.js';
import { measureWindow } from './measure-window.js';
import { blockE164, missE164, styleAll } from './bench-numbers.js';
import { printFigures } from './figures-line.js';
import { procCpuSeconds } from './proc-stats.js';
import { runMain } from './script-main.js';
import { driverFlags, driverOptions } from './flags.js';

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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...driverOptions({ measureMs: 3000, warmupMs: 1000 }),
      verify: { type: 'boolean', default: false },
      'server-pid': { type: 'string' },
    },
    strict: true,
  });
  const { url, size, seed, measureMs, warmupMs } = driverFlags(values);
  const port = Number(new URL(url).port);
  const targets = styleAll(missE164(size, seed), seed, 'mixed').map((n) => `/v1/check?number=${encodeURIComponent(n)}`);
  const conn = await KeepAlive.open(port);
  if (values.verify) {
    // Against callgate: a listed number blocks, an unlisted one is allowed (a wrong setup measures nothing).
    const listed = await conn.get(`/v1/check?number=${encodeURIComponent(blockE164(size, seed, 1)[0] ?? '')}`);
    const unlisted = await conn.get(targets[0] ?? '');
    if (listed.status !== 200 || !listed.body.includes('"verdict":"block"')) throw new Error(`verify: listed number answered ${listed.status} ${listed.body}`);
    if (unlisted.status !== 200 || !unlisted.body.includes('"verdict":"allow"')) throw new Error(`verify: unlisted number answered ${unlisted.status} ${unlisted.body}`);
  }
  const hist = newHistogram();
  let measuring = false;
  let stopping = false;
  let completed = 0;
  let errors = 0;
  let k = 0;
  const loop = (async () => {
    while (!stopping) {
      const t0 = performance.now();
      const r = await conn.get(targets[k++ % targets.length] ?? '/');
      const t1 = performance.now();
      if (r.status !== 200) errors++;
      if (measuring) {
        recordMs(hist, t1 - t0);
        completed++;
      }
    }
  })();
  const pid = values['server-pid'] === undefined ? null : Number(values['server-pid']);
  let cpu0: number | null = null;
  let cpu1: number | null = null;
  const seconds = await measureWindow(warmupMs, measureMs, (on) => {
    measuring = on;
    if (pid !== null) {
      if (on) cpu0 = procCpuSeconds(pid);
      else cpu1 = procCpuSeconds(pid);
    }
  });
  stopping = true;
  await loop;
  conn.close();
  const s = summarise(hist);
  const figures: Record<string, number> = {
    'http-single.p50_us': s.p50_us,
    'http-single.p99_us': s.p99_us,
    'http-single.throughput_per_s': completed / seconds,
    'http-single.errors': errors,
  };
  if (cpu0 !== null && cpu1 !== null && completed > 0) figures['http-single.cpu_us_per_check'] = ((cpu1 - cpu0) * 1e6) / completed;
  const cpu = figures['http-single.cpu_us_per_check'];
  log(`http-single: p50 ${s.p50_us} µs, p99 ${s.p99_us} µs, ${Math.round(completed / seconds)}/s${cpu === undefined ? '' : `, server CPU ${cpu.toFixed(1)} µs/request`}`);
  printFigures(figures);
}

runMain('http-driver', main);
