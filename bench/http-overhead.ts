/**
 * The HTTP single-check scenario alone, in about a minute (`npm run bench` runs it among all the others):
 * one callgate embedded on a small synthetic list (audit trail and journal on, as bench/run.ts starts it)
 * and the HTTP echo (bench/http-echo-server.ts), measured by bench/http-driver.ts in the same window,
 * requests alternating between the two (as run.ts does), round after round. Prints each round's p50/p99 and
 * the callgate/echo p99 ratio (and the p50 and server-CPU-per-request ratios), and their medians, on stderr.
 * With `--separate`, each round also measures them the way the CI bench did until 2026-12-03, each in its own
 * window one after the other (echo, then callgate), for comparison. Needs `npm run build` (the server runs from dist/).
 *
 *   node --import tsx bench/http-overhead.ts [--size 200000] [--seed 1] [--rounds 5] [--measure-ms 2000] [--warmup-ms 500] [--block 4] [--separate]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { installCleanup, runToEnd } from './children.js';
import { parseFigures } from './figures-line.js';
import { HTTP_ECHO_SCRIPT, HTTP_PAIR_BLOCK, httpDriverArgs, splitPairFigures } from './http-scenario.js';
import { NODE, ROOT, TSX } from './paths.js';
import { median } from './rounds.js';
import { soloOptions, startSoloCallgate } from './solo-callgate.js';
import { mustStart } from './targets.js';
import { runMain } from './script-main.js';

function log(msg: string): void {
  process.stderr.write(`http-overhead: ${msg}\n`);
}

const P99 = 'http-single.p99_us';
const P50 = 'http-single.p50_us';
const CPU = 'http-single.cpu_us_per_check';

/** Ratios of one round's callgate figures to the echo's. */
function ratios(c: Record<string, number>, e: Record<string, number>): { p99: number; p50: number; cpu: number } {
  return { p99: (c[P99] ?? 0) / (e[P99] ?? 1), p50: (c[P50] ?? 0) / (e[P50] ?? 1), cpu: (c[CPU] ?? 0) / (e[CPU] ?? 1) };
}

function line(label: string, c: Record<string, number>, e: Record<string, number>): string {
  const r = ratios(c, e);
  return (
    `${label}: echo p50 ${e[P50]} p99 ${e[P99]} µs ${Math.round(e['http-single.throughput_per_s'] ?? 0)}/s cpu ${(e[CPU] ?? 0).toFixed(1)} µs; ` +
    `callgate p50 ${c[P50]} p99 ${c[P99]} µs ${Math.round(c['http-single.throughput_per_s'] ?? 0)}/s cpu ${(c[CPU] ?? 0).toFixed(1)} µs; ` +
    `p99 ratio ${r.p99.toFixed(2)}, p50 ratio ${r.p50.toFixed(2)}, CPU ratio ${r.cpu.toFixed(2)}`
  );
}

async function main(): Promise<void> {
  installCleanup();
  const { values } = parseArgs({
    options: { ...soloOptions({ rounds: 5, measureMs: 2000, warmupMs: 500 }), separate: { type: 'boolean', default: false }, block: { type: 'string', default: String(HTTP_PAIR_BLOCK) } },
    strict: true,
  });
  const size = Number(values.size);
  const seed = Number(values.seed);
  const echo = await mustStart({ name: 'http-echo', command: NODE, args: [...TSX, HTTP_ECHO_SCRIPT], readyz: false, readyTimeoutMs: 30_000 });
  const gate = await startSoloCallgate(size, seed, 'callgate-http-bench-');
  const o = { size, seed, measureMs: Number(values['measure-ms']), warmupMs: Number(values['warmup-ms']) };
  const run = async (args: string[]): Promise<Record<string, number>> => parseFigures<number>(await runToEnd(NODE, args, { cwd: ROOT }));
  const paired: { p99: number; p50: number; cpu: number }[] = [];
  const separate: { p99: number; p50: number; cpu: number }[] = [];
  try {
    for (let r = 0; r < Number(values.rounds); r++) {
      const pair = splitPairFigures(await run(httpDriverArgs(TSX, gate.target.url, { ...o, verify: true, serverPid: gate.target.pid, floor: { url: echo.url, pid: echo.pid, block: Number(values.block) } })));
      paired.push(ratios(pair.target, pair.floor));
      log(`round ${r + 1} ${line('same window', pair.target, pair.floor)}; load ${loadavg()[0]?.toFixed(1)}`);
      if (values.separate) {
        const e = await run(httpDriverArgs(TSX, echo.url, { ...o, verify: false, serverPid: echo.pid }));
        const c = await run(httpDriverArgs(TSX, gate.target.url, { ...o, verify: true, serverPid: gate.target.pid }));
        separate.push(ratios(c, e));
        log(`round ${r + 1} ${line('own windows', c, e)}; load ${loadavg()[0]?.toFixed(1)}`);
      }
    }
    const med = (rs: readonly { p99: number; p50: number; cpu: number }[], k: 'p99' | 'p50' | 'cpu'): string => median(rs.map((x) => x[k])).toFixed(2);
    log(`same window: median callgate/echo p99 ${med(paired, 'p99')}, p50 ${med(paired, 'p50')}, server CPU per request ${med(paired, 'cpu')} over ${paired.length} rounds`);
    if (separate.length > 0) log(`own windows: median callgate/echo p99 ${med(separate, 'p99')}, p50 ${med(separate, 'p50')}, server CPU per request ${med(separate, 'cpu')} over ${separate.length} rounds`);
  } finally {
    await gate.close();
  }
}

runMain('http-overhead', main);
