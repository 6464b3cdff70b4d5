/**
 * `npm run bench:kamailio`: the post-dial delay the Kamailio gate adds (issue 14 item 3), as a ratio to
 * the same Kamailio relaying without the gate, measured in the same run. Starts callgate (the built
 * CLI, embedded, a 10,000-number deny-list), a UAS (bench/sip-peer.ts: 200 OK at once) and two Kamailio
 * instances from integrations/kamailio/kamailio.cfg — one gated, one with `-A GATE_OFF` (the same
 * configuration, the check skipped) — then, in interleaved rounds (gate, baseline; baseline, gate; …),
 * places calls through each: INVITE → 200 OK time at the UAC, at each `--concurrency` level (calls in
 * flight: 1 is one call's post-dial delay, 4 adds queueing in callgate and Kamailio). Every
 * number is off the list, so every call is checked and relayed. Reports p50/p99 per target (all rounds
 * pooled, and the median of the rounds' values), their ratios and the added delay in microseconds.
 *
 *   npm run bench:kamailio -- [--rounds 5] [--calls 1000] [--concurrency 1,4] [--children 4] [--warmup 300] [--out FILE] [--no-build]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Histogram } from 'hdr-histogram-js';
import { startKamailio, type RunningKamailio } from '../test/helpers/sip.js';
import { installCleanup, runToEnd, stopAll } from './children.js';
import { defaultOut, intFlag } from './flags.js';
import { newHistogram, recordMs, summarise, type LatencySummary } from './hdr.js';
import { median, roundOrder } from './rounds.js';
import { startUac, startUas, type Uac } from './sip-peer.js';
import { ROOT } from './paths.js';
import { writeResultFile } from './results-file.js';
import { mustStart } from './targets.js';
import { runMain } from './script-main.js';

/**
 * Kamailio keeps each INVITE transaction (≈15 KB of shared memory) for 5 s after its final reply; the
 * bench places a couple of thousand calls a second, far above a dialer's rate, so it needs more than
 * the 64 MB default (at which it answered 500 from about 4,300 calls in 5 s).
 */
const SHM_MB = 512;

interface Settings {
  readonly rounds: number;
  readonly calls: number;
  /** Calls in flight, one measurement per level: 1 is one call's post-dial delay; more shows queueing. */
  readonly concurrency: readonly number[];
  readonly children: number;
  readonly warmupCalls: number;
  readonly out: string;
  readonly build: boolean;
}

function settings(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rounds: { type: 'string' },
      calls: { type: 'string' },
      concurrency: { type: 'string' },
      children: { type: 'string' },
      warmup: { type: 'string' },
      out: { type: 'string' },
      'no-build': { type: 'boolean' },
    },
    strict: true,
  });
  return {
    rounds: intFlag('rounds', values.rounds, 5),
    calls: intFlag('calls', values.calls, 1000),
    concurrency: (values.concurrency ?? '1,4').split(',').map((c) => intFlag('concurrency', c, 1)),
    children: intFlag('children', values.children, 4),
    warmupCalls: intFlag('warmup', values.warmup, 300),
    out: values.out ?? defaultOut('kamailio-'),
    build: values['no-build'] !== true,
  };
}

/** Off-list numbers (the list holds 06 10 xx xx xx; these are 06 20 xx xx xx), a different one per call. */
function offList(i: number): string {
  return `0620${String(i % 1_000_000).padStart(6, '0')}`;
}

/** `calls` calls through `uac`, `concurrency` in flight; every duration into `h`. Throws on a call that was not answered 200. */
async function placeCalls(uac: Uac, calls: number, concurrency: number, first: number, h: Histogram | null): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < calls) {
      const i = next++;
      const r = await uac.call(offList(first + i));
      if (r.status !== 200) throw new Error(`call ${first + i} was answered ${r.status === 0 ? 'nothing (timeout)' : r.status}, expected 200:\n${r.head}`);
      if (h !== null) recordMs(h, r.ms);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

interface TargetResult {
  readonly pooled: LatencySummary;
  readonly rounds: LatencySummary[];
  readonly p50_us_median: number;
  readonly p99_us_median: number;
}

async function main(): Promise<void> {
  installCleanup();
  const s = settings(process.argv.slice(2));
  if (s.build) await runToEnd('npm', ['run', 'build'], { cwd: ROOT });
  const dir = mkdtempSync(join(tmpdir(), 'callgate-bench-kamailio-'));
  const list = join(dir, 'deny.txt');
  writeFileSync(list, `${Array.from({ length: 10_000 }, (_, i) => `0610${String(i).padStart(6, '0')}`).join('\n')}\n`);

  const started = await mustStart({
    name: 'callgate',
    command: process.execPath,
    args: [join(ROOT, 'bin', 'callgate.js'), 'serve', '--port', '0', '--list', `bench=${list}`, '--audit-dir', join(dir, 'audit'), '--journal', join(dir, 'journal.jsonl'), '--list-settle-ms', '0'],
    readyz: true,
    readyTimeoutMs: 60_000,
  });
  const callgatePort = Number(new URL(started.url).port);

  const uas = await startUas();
  const kamailios: RunningKamailio[] = [];
  const uacs: Uac[] = [];
  // Kamailio is not a bench/children.ts child: test/helpers/sip.ts stops it (here, or on exit).
  try {
    const gate = await startKamailio({ callgateUrl: `http://127.0.0.1:${callgatePort}`, nextHopPort: uas.port, children: s.children, timeoutS: 1, shmMb: SHM_MB });
    kamailios.push(gate);
    const base = await startKamailio({ callgateUrl: `http://127.0.0.1:${callgatePort}`, nextHopPort: uas.port, children: s.children, gateOff: true, shmMb: SHM_MB });
    kamailios.push(base);
    const targets = { gate: await startUac(gate.port), baseline: await startUac(base.port) } as const;
    uacs.push(targets.gate, targets.baseline);
    const names = ['gate', 'baseline'] as const;
    type Name = (typeof names)[number];

    let first = 0;
    const levels = [];
    for (const concurrency of s.concurrency) {
      // Warm-up at this level: Kamailio's workers, curl's kept connections, callgate's JIT.
      for (const n of names) {
        await placeCalls(targets[n], s.warmupCalls, concurrency, first, null);
        first += s.warmupCalls;
      }
      const pooled = { gate: newHistogram(), baseline: newHistogram() };
      const perRound: Record<Name, LatencySummary[]> = { gate: [], baseline: [] };
      for (let r = 0; r < s.rounds; r++) {
        const order = roundOrder(r, names);
        for (const n of order) {
          const h = newHistogram();
          await placeCalls(targets[n], s.calls, concurrency, first, h);
          first += s.calls;
          pooled[n].add(h);
          const one = summarise(h);
          perRound[n].push(one);
          process.stderr.write(`${concurrency} in flight, round ${r + 1}/${s.rounds} ${n}: p50 ${one.p50_us} µs, p99 ${one.p99_us} µs\n`);
        }
      }
      const result = (n: Name): TargetResult => ({
        pooled: summarise(pooled[n]),
        rounds: perRound[n],
        p50_us_median: median(perRound[n].map((x) => x.p50_us)),
        p99_us_median: median(perRound[n].map((x) => x.p99_us)),
      });
      const g = result('gate');
      const b = result('baseline');
      levels.push({
        concurrency,
        gate: g,
        baseline: b,
        ratio: {
          p50: g.pooled.p50_us / b.pooled.p50_us,
          p99: g.pooled.p99_us / b.pooled.p99_us,
          p50_of_round_medians: g.p50_us_median / b.p50_us_median,
          p99_of_round_medians: g.p99_us_median / b.p99_us_median,
        },
        added_us: { p50: g.pooled.p50_us - b.pooled.p50_us, p99: g.pooled.p99_us - b.pooled.p99_us },
      });
    }

    const report = { at: new Date().toISOString(), settings: s, machine: { cpus: cpus().length, loadavg: loadavg() }, levels };
    writeResultFile(s.out, report);
    const lines = [
      `Kamailio post-dial delay (INVITE → 200 OK at the UAC), ${s.rounds} rounds × ${s.calls} calls per target and level, ${s.children} Kamailio workers, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
      '',
      '| in flight | target | calls | p50 µs | p99 µs | p50 µs (median of rounds) | p99 µs (median of rounds) |',
      '|---|---|---|---|---|---|---|',
    ];
    for (const l of levels) {
      for (const [name, t] of [['Kamailio + callgate gate', l.gate], ['Kamailio alone (GATE_OFF)', l.baseline]] as const) {
        lines.push(`| ${l.concurrency} | ${name} | ${t.pooled.count} | ${t.pooled.p50_us} | ${t.pooled.p99_us} | ${t.p50_us_median} | ${t.p99_us_median} |`);
      }
    }
    lines.push('');
    for (const l of levels) {
      lines.push(`${l.concurrency} in flight: gate / alone p50 ${l.ratio.p50.toFixed(2)}×, p99 ${l.ratio.p99.toFixed(2)}× (added: p50 ${l.added_us.p50.toFixed(0)} µs, p99 ${l.added_us.p99.toFixed(0)} µs)`);
    }
    lines.push(`results: ${s.out}`, '');
    process.stdout.write(lines.join('\n'));
  } catch (err) {
    // What Kamailio said is the first thing to read when a call was not answered 200.
    for (const k of kamailios) process.stderr.write(`--- kamailio on udp:${k.port} (last lines) ---\n${k.log().split('\n').slice(-30).join('\n')}\n`);
    throw err;
  } finally {
    for (const u of uacs) await u.close();
    for (const k of kamailios) await k.stop();
    await uas.close();
    await started.stop();
    await stopAll();
  }
}

runMain('bench:kamailio', main);
