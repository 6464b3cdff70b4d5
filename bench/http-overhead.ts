/**
 * The HTTP single-check scenario alone, in about a minute (`npm run bench` runs it among all the others):
 * one callgate embedded on a small synthetic list (audit trail and journal on, as bench/run.ts starts it)
 * and the HTTP echo (bench/http-echo-server.ts), then bench/http-driver.ts against each in interleaved
 * rounds (echo, callgate, echo, callgate, …). Prints each round's p50/p99 and the callgate/echo p99
 * ratio (and the p50 and server-CPU-per-request ratios), and their medians, on stderr. Needs `npm run build` (the server runs from dist/).
 *
 *   node --import tsx bench/http-overhead.ts [--size 200000] [--seed 1] [--rounds 5] [--measure-ms 2000] [--warmup-ms 500]
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { installCleanup, runToEnd, stopAll } from './children.js';
import { writeSyntheticList } from './gen-list.js';
import { HTTP_ECHO_SCRIPT, httpDriverArgs } from './http-scenario.js';
import { startTarget } from './targets.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TSX = ['--import', 'tsx'];

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

function log(msg: string): void {
  process.stderr.write(`http-overhead: ${msg}\n`);
}

async function main(): Promise<void> {
  installCleanup();
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '200000' },
      seed: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '5' },
      'measure-ms': { type: 'string', default: '2000' },
      'warmup-ms': { type: 'string', default: '500' },
    },
    strict: true,
  });
  const size = Number(values.size);
  const seed = Number(values.seed);
  const listPath = join(ROOT, '.tmp', `bench-list-${size}-s${seed}.txt`);
  if (!existsSync(listPath)) {
    mkdirSync(dirname(listPath), { recursive: true });
    const partial = `${listPath}.partial-${process.pid}`;
    await writeSyntheticList({ size, seed, out: partial, formats: 'mixed', gzip: false });
    renameSync(partial, listPath);
  }
  const scratch = mkdtempSync(join(tmpdir(), 'callgate-http-bench-'));
  const echo = await startTarget({ name: 'http-echo', command: process.execPath, args: [...TSX, HTTP_ECHO_SCRIPT], readyz: false, readyTimeoutMs: 30_000 });
  if (!echo.ok) throw new Error(`http-echo did not start: ${echo.reason}`);
  const gate = await startTarget({
    name: 'callgate',
    command: process.execPath,
    args: ['bin/callgate.js', 'serve', '--host', '127.0.0.1', '--port', '0', '--list', `bench=${listPath}`, '--shutdown-grace-ms', '1000', '--audit-dir', join(scratch, 'audit'), '--journal', join(scratch, 'journal.jsonl')],
    readyz: true,
    readyTimeoutMs: 120_000,
  });
  if (!gate.ok) throw new Error(`callgate did not start: ${gate.reason}`);
  const o = { size, seed, measureMs: Number(values['measure-ms']), warmupMs: Number(values['warmup-ms']) };
  const one = async (url: string, verify: boolean, serverPid: number): Promise<Record<string, number>> => {
    const out = await runToEnd(process.execPath, httpDriverArgs(TSX, url, { ...o, verify, serverPid }), { cwd: ROOT });
    const line = out.trim().split('\n').pop() ?? '{}';
    return (JSON.parse(line) as { figures: Record<string, number> }).figures;
  };
  const ratios: number[] = [];
  const p50s: number[] = [];
  const cpus: number[] = [];
  try {
    for (let r = 0; r < Number(values.rounds); r++) {
      const e = await one(echo.target.url, false, echo.target.pid);
      const c = await one(gate.target.url, true, gate.target.pid);
      const ratio = (c['http-single.p99_us'] ?? 0) / (e['http-single.p99_us'] ?? 1);
      const p50 = (c['http-single.p50_us'] ?? 0) / (e['http-single.p50_us'] ?? 1);
      ratios.push(ratio);
      p50s.push(p50);
      const cpu = (c['http-single.cpu_us_per_check'] ?? 0) / (e['http-single.cpu_us_per_check'] ?? 1);
      cpus.push(cpu);
      log(
        `round ${r + 1}: echo p50 ${e['http-single.p50_us']} p99 ${e['http-single.p99_us']} µs ${Math.round(e['http-single.throughput_per_s'] ?? 0)}/s cpu ${(e['http-single.cpu_us_per_check'] ?? 0).toFixed(1)} µs; ` +
          `callgate p50 ${c['http-single.p50_us']} p99 ${c['http-single.p99_us']} µs ${Math.round(c['http-single.throughput_per_s'] ?? 0)}/s cpu ${(c['http-single.cpu_us_per_check'] ?? 0).toFixed(1)} µs; ` +
          `p99 ratio ${ratio.toFixed(2)}, p50 ratio ${p50.toFixed(2)}, CPU ratio ${cpu.toFixed(2)}; load ${loadavg()[0]?.toFixed(1)}`,
      );
    }
    log(`median callgate/echo p99 ${median(ratios).toFixed(2)}, p50 ${median(p50s).toFixed(2)}, server CPU per request ${median(cpus).toFixed(2)} over ${ratios.length} rounds`);
  } finally {
    await stopAll();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`http-overhead: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exitCode = 1;
});
