/**
 * `npm run bench`: the benchmark orchestrator. Generates (and caches) the synthetic list, starts each
 * target in its own process — the raw `ws` echo (the floor), callgate embedded, callgate in Redis mode on
 * a private redis-server — and runs the load driver (bench/driver.ts) in another process against each,
 * round after round, interleaved (echo, callgate, callgate-redis, direct Redis; again…) so that a noisy
 * neighbour hits all of them alike. Baselines in the same run: direct SISMEMBER, in-process Set lookup; a dial
 * check's rules script with and without WAIT for a replica (bench/redis-wait.ts).
 *
 *   npm run bench -- [--size 1000000] [--seed 1] [--ci] [--rounds N] [--measure-ms MS] [--warmup-ms MS]
 *                    [--rates 5000,20000,50000] [--out FILE] [--compare OLD.json] [--budgets] [--no-build]
 *                    [--scrub-lines 1000000]
 *
 * --ci: short scenarios, 3 rounds, no rate search (≈3–4 min at 1M on 2 cores). Figures are medians over
 * rounds; every round's value is kept in the JSON.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { missE164 } from './bench-numbers.js';
import { checkBudgets, BUDGETS_VERSION, type BudgetOutcome } from './budgets.js';
import { installCleanup, runToEnd, stopAll } from './children.js';
import { parseFigures } from './figures-line.js';
import { defaultOut, intFlag } from './flags.js';
import { benchListPath, ensureBenchList } from './list-cache.js';
import { NODE, ROOT, TSX } from './paths.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';
import { compareResults, markdownTable, unitOf, fmt, type Figure, type Ratio } from './report.js';
import { machine, writeResultFile } from './results-file.js';
import { median, Runs } from './rounds.js';
import { callgateServeArgs, rssMb, startTarget, type RunningTarget, type TargetSpec } from './targets.js';
import { HTTP_ECHO_SCRIPT, httpDriverArgs, splitPairFigures } from './http-scenario.js';
import { runMain } from './script-main.js';

interface Settings {
  readonly size: number;
  readonly seed: number;
  readonly ci: boolean;
  readonly rounds: number;
  readonly measureMs: number;
  /** Open-loop windows: p99 at 5k/s needs some thousands of samples to hold. */
  readonly openMeasureMs: number;
  readonly warmupMs: number;
  readonly rates: readonly number[];
  readonly search: boolean;
  readonly out: string;
  readonly compare: string | null;
  readonly budgets: boolean;
  readonly build: boolean;
  readonly listPath: string;
  /** Lines of the lead file `callgate scrub` reads (bench/scrub-driver.ts). */
  readonly scrubLines: number;
  readonly leadsPath: string;
  /** The fixed offered rate of the cost scenarios (driver --cost-rate), and how long each is measured. */
  readonly costRate: number;
  readonly costMeasureMs: number;
  /** Only what the stable cost figures need (CPU per check at fixed rates, script cost in Redis). */
  readonly costOnly: boolean;
}

function parseSettings(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      size: { type: 'string' },
      seed: { type: 'string' },
      ci: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      'measure-ms': { type: 'string' },
      'warmup-ms': { type: 'string' },
      rates: { type: 'string' },
      out: { type: 'string' },
      compare: { type: 'string' },
      budgets: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      'scrub-lines': { type: 'string' },
      'cost-only': { type: 'boolean', default: false },
      'cost-rate': { type: 'string' },
      'cost-measure-ms': { type: 'string' },
    },
    strict: true,
  });
  const ci = values.ci;
  const size = intFlag('size', values.size, 1_000_000);
  const seed = intFlag('seed', values.seed, 1);
  const rates = (values.rates ?? '5000,20000,50000').split(',').map((r) => intFlag('rates', r, 1));
  return {
    size,
    seed,
    ci,
    // Seven short rounds in CI: a median of seven per-round ratios shrugs off a few disturbed rounds.
    rounds: intFlag('rounds', values.rounds, ci ? 7 : 3),
    measureMs: intFlag('measure-ms', values['measure-ms'], ci ? 1500 : 3000),
    openMeasureMs: intFlag('measure-ms', values['measure-ms'], ci ? 2000 : 5000),
    warmupMs: intFlag('warmup-ms', values['warmup-ms'], ci ? 300 : 1000),
    rates,
    search: !ci,
    out: values.out ?? defaultOut('', ci ? '-ci' : ''),
    compare: values.compare ?? null,
    budgets: values.budgets,
    build: !values['no-build'],
    listPath: benchListPath(size, seed),
    scrubLines: intFlag('scrub-lines', values['scrub-lines'], 1_000_000),
    leadsPath: join(ROOT, '.tmp', `bench-leads-${intFlag('scrub-lines', values['scrub-lines'], 1_000_000)}-n${size}-s${seed}.csv`),
    costOnly: values['cost-only'],
    // Well below saturation on a shared 2-core machine (load ~10): at 5k/s Redis mode fell behind and answered
    // checks unsent (timeouts), at 2k/s fr-optin dials still queued: CPU per check then measures the overload.
    costRate: intFlag('cost-rate', values['cost-rate'], 1000),
    costMeasureMs: intFlag('cost-measure-ms', values['cost-measure-ms'], ci ? 3000 : 5000),
  };
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function packageVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  out['callgate'] = own.version;
  for (const name of ['ws', 'ioredis', 'hdr-histogram-js', 'bloom-filters', 'libphonenumber-js', 'pino', 'tsx']) {
    try {
      out[name] = (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      out[name] = 'absent';
    }
  }
  return out;
}

function gitState(): { commit: string; dirty: boolean } | null {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return { commit, dirty };
  } catch {
    return null;
  }
}

/** Every figure with its unit, its runs and their median, as the result file and the table show it. */
function figuresOf(store: Runs): Record<string, Figure> {
  const out: Record<string, Figure> = {};
  for (const [name, runs] of store.byName) out[name] = { ...unitOf(name), runs, median: median(runs) };
  return out;
}

function ratios(store: Runs): Record<string, Ratio> {
  const out: Record<string, Ratio> = {};
  const def = (name: string, formula: string, inputs: readonly string[], f: (v: readonly number[]) => number): void => {
    const meds = inputs.map((i) => store.median(i));
    if (meds.some((m) => m === undefined || !Number.isFinite(m))) return;
    const runLists = inputs.map((i) => store.get(i) ?? []);
    const rounds = Math.min(...runLists.map((r) => r.length));
    const runs: number[] = [];
    for (let r = 0; r < rounds; r++) runs.push(f(runLists.map((l) => l[r] ?? Number.NaN)));
    // Rounds are interleaved: a ratio within a round compares figures measured under the same load.
    out[name] = { value: runs.length > 0 ? median(runs) : f(meds as number[]), formula, runs };
  };
  def('miss-p99 callgate/echo', 'callgate.closed-miss.p99_us / echo.closed-miss.p99_us', ['callgate.closed-miss.p99_us', 'echo.closed-miss.p99_us'], ([a = 0, b = 1]) => a / b);
  def('block-p99 callgate/echo', 'callgate.closed-block.p99_us / echo.closed-block.p99_us', ['callgate.closed-block.p99_us', 'echo.closed-block.p99_us'], ([a = 0, b = 1]) => a / b);
  def('64-in-flight throughput callgate/echo', 'callgate.inflight-64x1.throughput_per_s / echo.inflight-64x1.throughput_per_s', ['callgate.inflight-64x1.throughput_per_s', 'echo.inflight-64x1.throughput_per_s'], ([a = 0, b = 1]) => a / b);
  def('fr-optin p99 / redis block-p99', 'callgate-redis.closed-optin.p99_us / callgate-redis.closed-block.p99_us', ['callgate-redis.closed-optin.p99_us', 'callgate-redis.closed-block.p99_us'], ([a = 0, b = 1]) => a / b);
  def('dial p99 with WAIT / without', 'redis-wait.dial-wait-1.p99_us / redis-wait.dial-off-1.p99_us', ['redis-wait.dial-wait-1.p99_us', 'redis-wait.dial-off-1.p99_us'], ([a = 0, b = 1]) => a / b);
  def('CPU per check at 20k/s, audit on / off', 'callgate.open-20000.cpu_us_per_check / callgate-noaudit.open-20000.cpu_us_per_check', ['callgate.open-20000.cpu_us_per_check', 'callgate-noaudit.open-20000.cpu_us_per_check'], ([a = 0, b = 1]) => a / b);
  def('HTTP single check p99 callgate/http-echo', 'callgate.http-single.p99_us / http-echo.http-single.p99_us', ['callgate.http-single.p99_us', 'http-echo.http-single.p99_us'], ([a = 0, b = 1]) => a / b);
  def('client/raw throughput at 64 in flight', 'callgate.client-64x1.throughput_per_s / callgate.raw-64x1.throughput_per_s', ['callgate.client-64x1.throughput_per_s', 'callgate.raw-64x1.throughput_per_s'], ([a = 0, b = 1]) => a / b);
  def('miss-p99 callgate-redis/echo', 'callgate-redis.closed-miss.p99_us / echo.closed-miss.p99_us', ['callgate-redis.closed-miss.p99_us', 'echo.closed-miss.p99_us'], ([a = 0, b = 1]) => a / b);
  const ratio = (name: string, num: string, den: string): void => def(name, `${num} / ${den}`, [num, den], ([a = 0, b = 1]) => a / b);
  // Issue 17: against the fair floors (bench/lookup-server.ts), and the stable cost figures.
  ratio('redis block-p99 callgate-redis/ws-redis', 'callgate-redis.closed-block.p99_us', 'ws-redis.closed-block.p99_us');
  ratio('miss-p99 callgate/ws-set', 'callgate.closed-miss.p99_us', 'ws-set.closed-miss.p99_us');
  ratio('64-in-flight throughput callgate/ws-set', 'callgate.inflight-64x1.throughput_per_s', 'ws-set.inflight-64x1.throughput_per_s');
  ratio('CPU per check callgate/ws-set', 'callgate.cost-mixed.cpu_us_per_check', 'ws-set.cost-mixed.cpu_us_per_check');
  ratio('CPU per block callgate-redis/ws-redis', 'callgate-redis.cost-block.cpu_us_per_check', 'ws-redis.cost-block.cpu_us_per_check');
  ratio('CPU per check fr-optin dial / Redis block', 'callgate-redis.cost-optin.cpu_us_per_check', 'callgate-redis.cost-block.cpu_us_per_check');
  ratio('in Redis: rules script / confirmation', 'callgate-redis.cost-optin.redis_script_us', 'callgate-redis.cost-block.redis_script_us');
  ratio('CPU per check stats on / off', 'callgate.cost-mixed.cpu_us_per_check', 'callgate-nostats.cost-mixed.cpu_us_per_check');
  for (const mode of ['embedded', 'redis']) {
    def(`consent list load, terms / none (${mode})`, `consent-load.${mode}.terms_ms / consent-load.${mode}.bare_ms`, [`consent-load.${mode}.terms_ms`, `consent-load.${mode}.bare_ms`], ([a = 0, b = 1]) => a / b);
    ratio(`refresh time paced / unpaced, under traffic (${mode})`, `refresh-pacing.${mode}.paced_ms`, `refresh-pacing.${mode}.unpaced_ms`);
    ratio(`refresh time paced / unpaced, no traffic (${mode})`, `refresh-pacing.${mode}.paced_quiet_ms`, `refresh-pacing.${mode}.unpaced_quiet_ms`);
  }
  for (const door of ['embedded.self', 'redis.self', 'redis.other']) {
    for (const kind of ['unpaced', 'paced']) ratio(`p99 during ${kind} refresh / outside (${door})`, `refresh-pacing.${door}.${kind}_p99_us`, `refresh-pacing.${door}.outside_p99_us`);
  }
  return out;
}

function printBudgetFailures(outcomes: readonly BudgetOutcome[], store: Runs): void {
  for (const b of outcomes) {
    if (b.status === 'inconclusive') log(`budget INCONCLUSIVE ${b.id}: ${b.figure} = ${fmt(b.value)} but the floor ${b.inputs[b.inputs.length - 1] ?? ''} = ${fmt(b.floorValue)} misses ${b.limitText} too: the machine is too busy to tell`);
    if (b.status !== 'broken' && b.status !== 'inconclusive') continue;
    if (b.status === 'broken') log(`${b.advisory ? 'ADVISORY budget (reported, not enforced) missed' : 'BUDGET BROKEN'} ${b.id}: ${b.figure} = ${fmt(b.value)} ${b.op} ${b.limitText} = ${fmt(b.limit)} fails; value/limit per round ${b.roundRatios.map((r) => fmt(r)).join(', ')} (median ${fmt(b.medianRatio)}) (${b.why})`);
    for (const name of [b.figure, ...b.inputs]) {
      log(`  ${name} runs: ${(store.get(name) ?? []).map((v) => fmt(v)).join(', ')}`);
    }
  }
}

async function main(): Promise<number> {
  installCleanup();
  const s = parseSettings(process.argv.slice(2));
  const startedAt = new Date();
  const notes: string[] = [];
  /** Errors that do not stop the run but fail it (exit 1): a target that should have started and did not. */
  const failures: string[] = [];
  const loadBefore = loadavg();
  log(`size ${s.size}, seed ${s.seed}, ${s.ci ? 'ci' : 'full'}: ${s.rounds} rounds, ${s.measureMs} ms per scenario; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  if (s.build) {
    log('npm run build');
    await runToEnd('npm', ['run', 'build', '--silent'], { cwd: ROOT });
  }

  const list = await ensureBenchList(s.size, s.seed);
  log(list.generated ? `list generated in ${list.seconds.toFixed(1)} s: ${s.listPath}` : `list cached: ${s.listPath}`);
  const store = new Runs();

  let redis: PrivateRedis | null = null;
  try {
    redis = await startPrivateRedis();
    log(`private redis-server ${redis.version} on port ${redis.port}`);
  } catch (err) {
    notes.push(`no private redis-server (${(err as Error).message}): Redis scenarios skipped`);
  }
  const directKey = `bench:direct:${process.pid}`;
  if (redis !== null) {
    const t0 = performance.now();
    await runToEnd(NODE, [...TSX, 'bench/redis-direct.ts', 'load', '--port', String(redis.port), '--key', directKey, '--size', String(s.size), '--seed', String(s.seed)], { cwd: ROOT });
    log(`direct-Redis set loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  const readyTimeoutMs = 120_000 + (s.size / 1e6) * 60_000;
  // Production defaults (audit trail and counting on), with their files in a scratch folder.
  const scratch = mkdtempSync(join(tmpdir(), 'callgate-bench-'));
  // fr-optin in Redis mode: a consent list holding the driver's miss numbers (with consent terms), one campaign.
  const consentsPath = join(scratch, 'consents.csv');
  writeFileSync(consentsPath, `number;consented_at;source;proof;expires_at\n${missE164(s.size, s.seed).map((n, i) => `${n};2026-09-01;web:bench;proof-${i};2030-01-01`).join('\n')}\n`);
  const optinConfig = join(scratch, 'optin.json');
  writeFileSync(optinConfig, JSON.stringify({ lists: [{ name: 'consents', kind: 'allow', role: 'consent', source: consentsPath }], campaigns: { optin: { policy: 'fr-optin' } } }));
  const callgateArgs = callgateServeArgs(s.listPath, scratch);
  const specs: TargetSpec[] = [
    { name: 'echo', command: NODE, args: [...TSX, 'bench/echo-server.ts'], readyz: false, readyTimeoutMs: 30_000 },
    // The HTTP floor for callgate's GET /v1/check (bench/http-driver.ts, one kept-alive connection).
    { name: 'http-echo', command: NODE, args: [...TSX, HTTP_ECHO_SCRIPT], readyz: false, readyTimeoutMs: 30_000 },
    // The fair floor of embedded mode: ws + one in-process Set lookup per check (bench/lookup-server.ts).
    { name: 'ws-set', command: NODE, args: [...TSX, 'bench/lookup-server.ts', '--store', 'set', '--size', String(s.size), '--seed', String(s.seed)], readyz: false, readyTimeoutMs: readyTimeoutMs, verify: false },
    { name: 'callgate', command: NODE, args: callgateArgs, readyz: true, readyTimeoutMs },
    // The same without the audit trail, for the audit's cost at fixed rates (open-loop scenarios only).
    { name: 'callgate-noaudit', command: NODE, args: callgateArgs.map((a, i) => (callgateArgs[i - 1] === '--audit-dir' ? 'off' : a)), readyz: true, readyTimeoutMs, onlyOpen: true },
    // The same without counting (--stats false), for the bookkeeping's cost at fixed rates (issue 17).
    { name: 'callgate-nostats', command: NODE, args: callgateArgs, env: { CALLGATE_STATS: 'false' }, readyz: true, readyTimeoutMs, onlyOpen: true },
  ];
  if (redis !== null) {
    // The fair floor of Redis mode: ws + one SISMEMBER per check on the same private Redis (three processes).
    specs.push({ name: 'ws-redis', command: NODE, args: [...TSX, 'bench/lookup-server.ts', '--store', 'redis', '--redis-port', String(redis.port), '--key', directKey], readyz: false, readyTimeoutMs: 30_000, openBlock: true, verify: false });
    specs.push({ name: 'callgate-redis', command: NODE, args: [...callgateArgs, '--redis', redis.url, '--redis-prefix', `bench-${process.pid}:`, '--config', optinConfig], readyz: true, readyTimeoutMs, optin: 'optin', openBlock: true, redisPort: redis.port });
  }
  // --cost-only: the targets with a CPU figure (/metrics), open loops and script cost only.
  if (s.costOnly) for (let i = specs.length - 1; i >= 0; i--) if (specs[i]?.name === 'echo' || specs[i]?.name === 'http-echo') specs.splice(i, 1);
  const targets: RunningTarget[] = [];
  // One at a time: list loading is CPU-heavy and would slow the others' start.
  for (const spec of specs) {
    const outcome = await startTarget({ ...spec, args: spec.args.map(String) });
    if (!outcome.ok) {
      const note = outcome.unavailable ? `${spec.name} skipped: the CLI says "${outcome.reason}"` : `${spec.name} FAILED to start, skipped: ${outcome.reason}`;
      if (!outcome.unavailable) failures.push(`${spec.name} failed to start`);
      notes.push(note);
      log(note);
      continue;
    }
    targets.push(outcome.target);
    store.add(`${spec.name}.startup.ready_s`, outcome.target.readySeconds);
    log(`${spec.name} ready in ${outcome.target.readySeconds.toFixed(1)} s at ${outcome.target.url} (pid ${outcome.target.pid})`);
  }

  log('in-process Set baseline');
  store.addAll('', parseFigures(await runToEnd(NODE, [...TSX, 'bench/set-lookup.ts', '--size', String(s.size), '--seed', String(s.seed)], { cwd: ROOT })));

  const driverArgs = ['--size', String(s.size), '--seed', String(s.seed), '--measure-ms', String(s.measureMs), '--warmup-ms', String(s.warmupMs), '--open-measure-ms', String(s.openMeasureMs), '--rates', s.costOnly ? '' : s.rates.join(','), '--cost-rate', String(s.costRate), '--cost-measure-ms', String(s.costMeasureMs)];
  const loadPerRound: number[][] = [];
  const httpEcho = targets.find((t) => t.name === 'http-echo');
  for (let round = 1; round <= s.rounds; round++) {
    for (const t of targets) {
      // The HTTP echo is measured with callgate, in the same window (below).
      if (t.name === 'http-echo') continue;
      log(`round ${round}/${s.rounds}: ${t.name}`);
      // A larger young generation: the driver allocates per message, and fewer scavenges mean fewer
      // pauses of the measuring instrument itself. Targets keep Node's defaults, as in production.
      const args = ['--max-semi-space-size=32', ...TSX, 'bench/driver.ts', '--url', t.url, ...driverArgs];
      if (t.name !== 'echo' && t.spec.verify !== false) args.push('--verify');
      if (t.spec.optin !== undefined) args.push('--optin-campaign', t.spec.optin);
      if (t.spec.onlyOpen === true || s.costOnly) args.push('--only-open');
      args.push('--server-pid', String(t.pid));
      if (t.spec.openBlock === true) args.push('--open-block');
      if (t.spec.redisPort !== undefined) args.push('--redis-port', String(t.spec.redisPort));
      if (s.search) args.push('--search');
      // HTTP first: right after the WebSocket scenarios (open loop at 50k/s last) the server is still
      // flushing their audit records, which measured the backlog rather than the HTTP door. The HTTP echo
      // in the same window, requests alternating (bench/http-scenario.ts): until 2026-12-03 it was measured
      // in its own turn, tens of seconds before callgate's, and the ratio read the load's swings in between.
      if (t.name === 'callgate' && !s.costOnly) {
        const http = { size: s.size, seed: s.seed, measureMs: s.measureMs, warmupMs: s.warmupMs, verify: true, serverPid: t.pid, ...(httpEcho === undefined ? {} : { floor: { url: httpEcho.url, pid: httpEcho.pid } }) };
        const pair = splitPairFigures(parseFigures(await runToEnd(NODE, httpDriverArgs(TSX, t.url, http), { cwd: ROOT })));
        store.addAll(`${t.name}.`, pair.target);
        if (httpEcho !== undefined) store.addAll(`${httpEcho.name}.`, pair.floor);
      }
      store.addAll(`${t.name}.`, parseFigures(await runToEnd(NODE, args, { cwd: ROOT })));
      // The client's overhead: the package's client vs the raw socket, 64 in flight, same round (bench/client-driver.ts).
      // The lead-file scrub vs the gate's batch rate, same round (bench/scrub-driver.ts; the file is cached in .tmp/).
      if (t.name === 'callgate') store.addAll('callgate.', parseFigures(await runToEnd(NODE, [...TSX, 'bench/scrub-driver.ts', '--url', t.url, '--size', String(s.size), '--seed', String(s.seed), '--lines', String(s.scrubLines), '--file', s.leadsPath, '--measure-ms', String(s.measureMs), '--warmup-ms', String(s.warmupMs)], { cwd: ROOT })));
      if (t.name === 'callgate' && !s.costOnly) store.addAll('callgate.', parseFigures(await runToEnd(NODE, ['--max-semi-space-size=32', ...TSX, 'bench/client-driver.ts', '--url', t.url, '--size', String(s.size), '--seed', String(s.seed), '--measure-ms', String(s.measureMs), '--warmup-ms', String(s.warmupMs)], { cwd: ROOT })));
    }
    if (redis !== null && !s.costOnly) {
      log(`round ${round}/${s.rounds}: direct Redis`);
      store.addAll('redis-direct.', parseFigures(await runToEnd(NODE, [...TSX, 'bench/redis-direct.ts', 'run', '--port', String(redis.port), '--key', directKey, '--size', String(s.size), '--seed', String(s.seed), '--measure-ms', String(s.measureMs), '--warmup-ms', String(s.warmupMs)], { cwd: ROOT })));
      // A dial check's rules script with WAIT for one replica vs without, same run (its own master + replica).
      log(`round ${round}/${s.rounds}: dial with and without WAIT`);
      store.addAll('redis-wait.', parseFigures(await runToEnd(NODE, [...TSX, 'bench/redis-wait.ts', '--rounds', '1', '--measure-ms', String(s.measureMs), '--warmup-ms', String(s.warmupMs)], { cwd: ROOT })));
    }
    loadPerRound.push(loadavg());
  }
  for (const t of targets) store.add(`${t.name}.memory.rss_mb`, rssMb(t.pid));

  await stopAll();

  // Issue 17: a consent list with terms vs the same numbers without, both modes, interleaved rounds, after the
  // targets stopped (a load is CPU-heavy). Sized down from the run's list: the ratio is what is budgeted.
  const consentSize = Math.min(s.size, s.ci ? 100_000 : 200_000);
  log(`consent list load, ${consentSize} numbers, with terms vs without`);
  // stopAll() stopped the run's private redis-server too: consent-load starts its own (a fresh, empty one).
  const consentArgs = [...TSX, 'bench/consent-load.ts', '--size', String(consentSize), '--rounds', String(Math.min(s.rounds, 3)), '--seed', String(s.seed), '--modes', redis === null ? 'embedded' : 'embedded,redis'];
  store.addAll('', parseFigures(await runToEnd(NODE, consentArgs, { cwd: ROOT })));
  // Issue 17 item 3: a refresh under one-in-flight traffic, paced vs unpaced, both modes (its own private redis-server).
  const pacingSize = Math.min(s.size, s.ci ? 300_000 : 1_000_000);
  log(`refresh under traffic, ${pacingSize} numbers, paced vs unpaced`);
  const pacingArgs = [...TSX, 'bench/refresh-pacing.ts', '--size', String(pacingSize), '--rounds', String(Math.min(s.rounds, 3)), '--seed', String(s.seed), '--outside-ms', s.ci ? '1500' : '3000', '--modes', redis === null ? 'embedded' : 'embedded,redis'];
  store.addAll('', parseFigures(await runToEnd(NODE, pacingArgs, { cwd: ROOT })));

  // A driver that sends late cannot tell how fast the server is: flag open-loop figures it disturbed.
  for (const t of targets) {
    const lag = store.median(`${t.name}.open-${s.rates[0]}.send_lag_p99_us`);
    if (lag !== undefined && lag > 200) notes.push(`${t.name}: the driver sent ${fmt(lag)} µs late (p99) at ${s.rates[0]}/s: open-loop figures disturbed (CPU contention?)`);
    for (const [name, runs] of store.byName) if (name.startsWith(`${t.name}.`) && (name.endsWith('.errors') || name.endsWith('.lost')) && runs.some((v) => v > 0)) notes.push(`${name}: ${runs.join(', ')}`);
  }
  const loadAfter = loadavg();
  if (Math.max(...loadPerRound.map((l) => l[0] ?? 0)) > cpus().length + 0.5) notes.push(`load average reached ${Math.max(...loadPerRound.map((l) => l[0] ?? 0)).toFixed(2)} on ${cpus().length} CPUs: other work shared the machine`);

  const figures = figuresOf(store);
  const ratioMap = ratios(store);
  const budgetOutcomes = checkBudgets((name) => store.get(name));

  const result = {
    schema: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    machine: machine(),
    versions: { ...packageVersions(), redis: redis?.version ?? null },
    git: gitState(),
    settings: { ...s, list: { path: s.listPath, cached: !list.generated, generateSeconds: list.seconds, formats: 'mixed' }, driver: { numberFormats: 'mixed', loadedMix: '90% unlisted, 10% listed', connections: 8 } },
    loadavg: { before: loadBefore, perRound: loadPerRound, after: loadAfter },
    targets: targets.map((t) => t.name),
    figures,
    ratios: ratioMap,
    budgets: { version: BUDGETS_VERSION, checked: s.budgets, outcomes: budgetOutcomes },
    notes,
    failures,
  };
  writeResultFile(s.out, result);

  process.stdout.write(`\n${markdownTable(figures, ratioMap, s.budgets ? budgetOutcomes : [], s.rounds)}\n\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(`results: ${s.out}\n`);
  if (s.compare !== null) {
    const old = JSON.parse(readFileSync(s.compare, 'utf8')) as Parameters<typeof compareResults>[0];
    process.stdout.write(`\ncompared with ${s.compare}:\n${compareResults(old, result)}\n`);
  }
  for (const f of failures) log(`FAILED: ${f}`);
  if (s.budgets) {
    printBudgetFailures(budgetOutcomes, store);
    if (budgetOutcomes.some((b) => b.status === 'broken' && !b.advisory)) return 1;
  }
  return failures.length > 0 ? 1 : 0;
}

runMain('bench', main);
