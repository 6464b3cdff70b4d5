/**
 * The HTTP single-check scenario alone, in about a minute (`npm run bench` runs it among all the others):
 * one callgate embedded on a small synthetic list (audit trail and journal on, as bench/run.ts starts it)
 * and the HTTP echo (bench/http-echo-server.ts), then bench/http-driver.ts against each in interleaved
 * rounds (echo, callgate, echo, callgate, …). Prints each round's p50/p99 and the callgate/echo p99
 * ratio (and the p50 and server-CPU-per-request ratios), and their medians, on stderr. Needs `npm run build` (the server runs from dist/).
 *
 *   node --import tsx bench/http-overhead.ts [--size 200000] [--seed 1] [--rounds 5] [--measure-ms 2000] [--warmup-ms 500]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { installCleanup, runToEnd } from './children.js';
import { parseFigures } from './figures-line.js';
import { HTTP_ECHO_SCRIPT, httpDriverArgs } from './http-scenario.js';
import { NODE, ROOT, TSX } from './paths.js';
import { median } from './rounds.js';
import { soloOptions, startSoloCallgate } from './solo-callgate.js';
import { mustStart } from './targets.js';
import { runMain } from './script-main.js';

function log(msg: string): void {
  process.stderr.write(`http-overhead: ${msg}\n`);
}

async function main(): Promise<void> {
  installCleanup();
  const { values } = parseArgs({
    options: soloOptions({ rounds: 5, measureMs: 2000, warmupMs: 500 }),
    strict: true,
  });
  const size = Number(values.size);
  const seed = Number(values.seed);
  const echo = await mustStart({ name: 'http-echo', command: NODE, args: [...TSX, HTTP_ECHO_SCRIPT], readyz: false, readyTimeoutMs: 30_000 });
  const gate = await startSoloCallgate(size, seed, 'callgate-http-bench-');
  const o = { size, seed, measureMs: Number(values['measure-ms']), warmupMs: Number(values['warmup-ms']) };
  const one = async (url: string, verify: boolean, serverPid: number): Promise<Record<string, number>> =>
    parseFigures<number>(await runToEnd(NODE, httpDriverArgs(TSX, url, { ...o, verify, serverPid }), { cwd: ROOT }));
  const ratios: number[] = [];
  const p50s: number[] = [];
  const cpus: number[] = [];
  try {
    for (let r = 0; r < Number(values.rounds); r++) {
      const e = await one(echo.url, false, echo.pid);
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
    await gate.close();
  }
}

runMain('http-overhead', main);
