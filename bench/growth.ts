/**
 * `npm run bench:growth`: the growth curve (issue 17 item 6). For each list size, in both modes, it measures
 * what grows with the list and what must not: load time, ready-from-stored time, memory per number (the
 * sidecar process, and Redis), and the latency of one check at one in flight, misses and hits. Sizes are
 * interleaved in every round, so the ratio of a size's p99 to the smallest size's p99 compares figures taken
 * under the same load (the machine is shared).
 *
 *   npm run bench:growth -- [--sizes 1000000,12000000] [--modes embedded,redis] [--rounds 5] [--measure-ms 4000]
 *                           [--warmup-ms 3000] [--seed 1] [--out FILE] [--keep-lists] [--no-build]
 *
 * Per size and mode:
 *   embedded: `callgate serve --list` from nothing (load), then stopped and started again with the same journal
 *             and install record (ready-from-stored: an embedded sidecar rebuilds from its file at every start);
 *   redis:    `callgate load` into a private redis-server of this size alone (load), then `callgate serve --redis`
 *             with no file (ready-from-stored: a sidecar taking over the generation already in Redis).
 * The restarted process is the one measured, one check at a time in turns with every other size and mode
 * (bench/growth-driver.ts). Memory per number is net of a floor process of the same mode on a 10,000-number list
 * (Node, libraries, buffers), after a driver pass; Redis's is used_memory after the load minus before, per number.
 * Before a size larger than any measured, its memory is estimated linearly from the largest measured size and the
 * size is skipped (with a note) unless it fits in 75% of MemAvailable.
 *
 * Budgets (reported, not enforced: run by hand): p99 of the largest size / p99 of the smallest ≤ 1.2 (median of
 * per-round ratios, per mode and path), and bytes per number at the largest size ≤ 1.1× the smallest's: the
 * sidecar's memory outside the V8 heap (the filter and exact set, typed arrays) net of the floor, and Redis's.
 * RSS is reported, not judged: freed load buffers the allocator keeps swing it by tens of MB.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { collectOutput, installCleanup, runToEnd, spawnTracked, stopAll, stopChild } from './children.js';
import { parseFigures } from './figures-line.js';
import { defaultOut, modesFlag, positiveInt, type Mode } from './flags.js';
import { benchListPath, ensureBenchList } from './list-cache.js';
import { NODE, ROOT, TSX } from './paths.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';
import { procBytes } from './proc-stats.js';
import { fmt } from './report.js';
import { machine as machineInfo, writeResultFile } from './results-file.js';
import { median, Runs } from './rounds.js';
import { callgateServeArgs, mustStart, type RunningTarget, type TargetSpec } from './targets.js';
import { runMain } from './script-main.js';

/** The floor process's list: its memory is what a sidecar holds with (almost) no list. */
const FLOOR_SIZE = 10_000;
/** The bench's largest cached list (run.ts --size 12000000); lists above it are deleted at the end. */
const KEEP_LISTS_UP_TO = 12_000_000;
/** Bytes of list text per number in the mixed-format synthetic list (12.66 at 1M), with room. */
const LIST_BYTES_PER_NUMBER = 14;
const P99_RATIO_BUDGET = 1.2;
const MEMORY_GROWTH_BUDGET = 1.1;
/** Share of MemAvailable a size may take (estimated): the machine is shared with other jobs. */
const MEMORY_HEADROOM = 0.75;

interface Settings {
  readonly sizes: readonly number[];
  readonly modes: readonly Mode[];
  readonly rounds: number;
  readonly measureMs: number;
  readonly warmupMs: number;
  readonly seed: number;
  readonly out: string;
  readonly keepLists: boolean;
  readonly build: boolean;
}

function parseSettings(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sizes: { type: 'string', default: '1000000,12000000' },
      modes: { type: 'string', default: 'embedded,redis' },
      rounds: { type: 'string', default: '5' },
      // Per path and round, shared by all targets in turns.
      'measure-ms': { type: 'string', default: '4000' },
      'warmup-ms': { type: 'string', default: '3000' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      'keep-lists': { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const sizes = [...new Set(values.sizes.split(',').map((s) => positiveInt('sizes', s)))].sort((a, b) => a - b);
  if (sizes.length < 2) throw new Error(`--sizes expects at least two sizes (the smallest is the baseline), got ${JSON.stringify(values.sizes)}`);
  if ((sizes[0] ?? 0) <= FLOOR_SIZE) throw new Error(`--sizes: the smallest must be above the floor list's ${FLOOR_SIZE}, got ${sizes[0]}`);
  return {
    sizes,
    modes: modesFlag(values.modes),
    rounds: positiveInt('rounds', values.rounds),
    measureMs: positiveInt('measure-ms', values['measure-ms']),
    warmupMs: positiveInt('warmup-ms', values['warmup-ms']),
    seed: positiveInt('seed', values.seed),
    out: values.out ?? defaultOut('growth-'),
    keepLists: values['keep-lists'],
    build: !values['no-build'],
  };
}

function log(msg: string): void {
  process.stderr.write(`growth: ${msg}\n`);
}

/** The run's cached list (list-cache.ts), after checking that the disk can hold it when it must be generated. */
async function ensureList(size: number, seed: number): Promise<{ path: string; generated: boolean }> {
  const path = benchListPath(size, seed);
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const fs = statfsSync(dirname(path));
    const need = size * LIST_BYTES_PER_NUMBER * 1.5;
    if (fs.bavail * fs.bsize < need) throw new Error(`a ${size}-number list needs about ${(need / 2 ** 30).toFixed(1)} GiB of disk; ${((fs.bavail * fs.bsize) / 2 ** 30).toFixed(1)} GiB free`);
  }
  const list = await ensureBenchList(size, seed);
  if (list.generated) log(`list of ${size} generated in ${list.seconds.toFixed(1)} s`);
  return list;
}

function memAvailableBytes(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
}

/** The sidecar's V8 heap and the memory outside it (typed arrays: the filter and the exact set), from /metrics. */
async function nodeMemory(target: RunningTarget): Promise<{ heapUsed: number; external: number }> {
  const text = await (await fetch(target.url.replace(/^ws/, 'http').replace(/\/?$/, '/metrics'))).text();
  const gauge = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { heapUsed: gauge('nodejs_heap_size_used_bytes'), external: gauge('nodejs_external_memory_bytes') };
}

function redisInfo(port: number): Record<string, number> {
  const text = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'memory'], { encoding: 'utf8' });
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(used_memory|used_memory_rss|used_memory_peak):(\d+)/gm)) out[m[1] ?? ''] = Number(m[2]);
  return out;
}

/** Runs a command to its end while sampling its peak RSS (VmHWM is gone once it exits). */
async function runMeasured(args: readonly string[]): Promise<{ seconds: number; peakBytes: number }> {
  const t0 = performance.now();
  const child = spawnTracked(NODE, args, { cwd: ROOT });
  const out = collectOutput(child);
  let peak = 0;
  const timer = setInterval(() => {
    if (child.pid !== undefined) peak = Math.max(peak, procBytes(child.pid, 'VmHWM') || 0);
  }, 100);
  const code = await new Promise<number | string>((res) => child.once('exit', (c, s) => res(c ?? s ?? 'unknown')));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}: ${out.stderr().slice(-1500)}${out.stdout().slice(-1500)}`);
  return { seconds: (performance.now() - t0) / 1000, peakBytes: peak };
}

/** One size in one mode: how it got ready, and the process measured in the rounds. */
interface Setup {
  readonly mode: Mode;
  readonly size: number;
  readonly loadS: number;
  readonly readyFromStoredS: number;
  /** Peak RSS while loading: the embedded sidecar's first start, or `callgate load`. */
  readonly loadPeakBytes: number;
  readonly target: RunningTarget;
  readonly redis: PrivateRedis | null;
  /** Redis used_memory before the load (an empty server). */
  readonly redisBaseBytes: number;
}

function callgateArgs(list: string | null, scratch: string, extra: readonly string[]): string[] {
  return [...callgateServeArgs(list, scratch, { listSettleMs: 0 }), ...extra];
}

async function setUp(mode: Mode, size: number, list: string, scratchRoot: string): Promise<Setup> {
  const scratch = mkdtempSync(join(scratchRoot, `${mode}-${size}-`));
  const readyTimeoutMs = 120_000 + (size / 1e6) * 60_000;
  if (mode === 'embedded') {
    const spec: TargetSpec = { name: 'callgate', command: NODE, args: callgateArgs(list, scratch, []), readyz: true, readyTimeoutMs };
    const first = await mustStart(spec);
    const loadPeakBytes = procBytes(first.pid, 'VmHWM');
    await first.stop();
    // The same command, journal and install record: what a restarted embedded sidecar does.
    const second = await mustStart(spec);
    return { mode, size, loadS: first.readySeconds, readyFromStoredS: second.readySeconds, loadPeakBytes, target: second, redis: null, redisBaseBytes: 0 };
  }
  const redis = await startPrivateRedis();
  const redisBaseBytes = redisInfo(redis.port)['used_memory'] ?? Number.NaN;
  const prefix = `growth-${process.pid}:`;
  let load: { seconds: number; peakBytes: number };
  try {
    load = await runMeasured(['bin/callgate.js', 'load', '--redis', redis.url, '--redis-prefix', prefix, `bench=${list}`]);
  } catch (err) {
    await stopChild(redis.child);
    throw err;
  }
  const sidecar = await mustStart({ name: 'callgate-redis', command: NODE, args: callgateArgs(null, scratch, ['--redis', redis.url, '--redis-prefix', prefix]), readyz: true, readyTimeoutMs });
  return { mode, size, loadS: load.seconds, readyFromStoredS: sidecar.readySeconds, loadPeakBytes: load.peakBytes, target: sidecar, redis, redisBaseBytes };
}

/**
 * Peak bytes a size would take in every mode, scaled linearly from a measured size: embedded, the sidecar's peak
 * (first start or restart); Redis mode, the loader's peak, the sidecar's and Redis's RSS, as if all at once.
 */
function estimateBytes(size: number, from: readonly Setup[], redisRss: ReadonlyMap<Setup, number>): number {
  let total = 0;
  for (const x of from) {
    const sidecarPeak = procBytes(x.target.pid, 'VmHWM');
    const bytes = x.mode === 'embedded' ? Math.max(x.loadPeakBytes, sidecarPeak) : x.loadPeakBytes + sidecarPeak + (redisRss.get(x) ?? 0);
    total += (bytes * size) / x.size;
  }
  return total;
}

/** One round: every target, one check at a time in turns (bench/growth-driver.ts). */
async function drive(setups: readonly Setup[], settings: Settings): Promise<Record<string, number>> {
  const args = [...TSX, 'bench/growth-driver.ts', '--seed', String(settings.seed), '--measure-ms', String(settings.measureMs), '--warmup-ms', String(settings.warmupMs)];
  for (const x of setups) args.push('--target', `${key(x.mode, x.size)}=${x.target.url}`);
  return parseFigures<number>(await runToEnd(NODE, args, { cwd: ROOT }));
}

const PATHS = ['closed-miss', 'closed-block'] as const;
const METRICS = ['p50_us', 'p99_us'] as const;
const key = (mode: Mode, size: number): string => `${mode}@${size}`;

async function main(): Promise<number> {
  installCleanup();
  const s = parseSettings(process.argv.slice(2));
  const startedAt = new Date();
  const notes: string[] = [];
  const loadBefore = loadavg();
  log(`sizes ${s.sizes.join(', ')}, modes ${s.modes.join(', ')}, ${s.rounds} rounds of ${s.measureMs} ms per path; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  if (s.build) await runToEnd('npm', ['run', 'build', '--silent'], { cwd: ROOT });
  const scratchRoot = mkdtempSync(join(tmpdir(), 'callgate-growth-'));
  const generated: string[] = [];
  const setups: Setup[] = [];
  const floors = new Map<Mode, Setup>();
  const redisRss = new Map<Setup, number>();
  let redisVersion: string | null = null;
  try {
    const floorList = await ensureList(FLOOR_SIZE, s.seed);
    for (const mode of s.modes) floors.set(mode, await setUp(mode, FLOOR_SIZE, floorList.path, scratchRoot));
    for (const size of s.sizes) {
      const measured = setups.filter((x) => x.size === Math.max(...setups.map((y) => y.size)));
      if (measured.length > 0) {
        const need = estimateBytes(size, measured, redisRss);
        const available = memAvailableBytes();
        log(`${size}: estimated ${(need / 2 ** 30).toFixed(1)} GiB at peak (linear from ${measured[0]?.size}), MemAvailable ${(available / 2 ** 30).toFixed(1)} GiB`);
        if (need > available * MEMORY_HEADROOM) {
          notes.push(`${size} skipped: estimated ${(need / 2 ** 30).toFixed(1)} GiB > ${MEMORY_HEADROOM * 100}% of MemAvailable ${(available / 2 ** 30).toFixed(1)} GiB`);
          log(notes[notes.length - 1] ?? '');
          continue;
        }
      }
      const list = await ensureList(size, s.seed);
      if (list.generated && size > KEEP_LISTS_UP_TO) generated.push(list.path);
      for (const mode of s.modes) {
        let setup: Setup | null = null;
        // A load that lost its fleet lock (CALLGATE_ERR_LOCK_LOST: no renewal within the TTL, seen at 12M under
        // load ~14) is retried once; any other failure leaves this size and mode out, with a note.
        for (let attempt = 1; setup === null && attempt <= 2; attempt++) {
          try {
            setup = await setUp(mode, size, list.path, scratchRoot);
          } catch (err) {
            const text = err instanceof Error ? err.message : String(err);
            const retry = attempt === 1 && text.includes('CALLGATE_ERR_LOCK_LOST');
            notes.push(`${key(mode, size)} attempt ${attempt} failed${retry ? ', retried' : ', not measured'}: ${text.slice(-400)}`);
            log(notes[notes.length - 1] ?? '');
            if (!retry) break;
          }
        }
        if (setup === null) continue;
        if (setup.redis !== null) {
          redisVersion = setup.redis.version;
          redisRss.set(setup, redisInfo(setup.redis.port)['used_memory_rss'] ?? 0);
        }
        setups.push(setup);
        log(`${key(mode, size)}: load ${setup.loadS.toFixed(1)} s (peak RSS ${(setup.loadPeakBytes / 2 ** 20).toFixed(0)} MB), ready from stored ${setup.readyFromStoredS.toFixed(1)} s`);
      }
    }
    if (new Set(setups.map((x) => x.size)).size < 2) throw new Error('fewer than two sizes could be measured');

    // Rounds: every size and mode once per round, the order rotated each round so none is always first.
    const runs = new Runs();
    const add = (name: string, v: number | undefined): void => {
      if (v !== undefined) runs.add(name, v);
    };
    const loadPerRound: number[][] = [];
    for (let round = 0; round < s.rounds; round++) {
      log(`round ${round + 1}/${s.rounds}`);
      const f = await drive(setups, s);
      for (const x of setups) for (const p of PATHS) for (const m of METRICS) add(`${key(x.mode, x.size)}.${p}.${m}`, f[`${key(x.mode, x.size)}.${p}.${m}`]);
      loadPerRound.push(loadavg());
    }
    // The floors get a driver pass too, so that their memory is that of a process that has served checks.
    await drive([...floors.values()], { ...s, measureMs: Math.min(s.measureMs, 1000) });

    // Memory, after the rounds: steady state.
    const memOf = async (x: Setup): Promise<{ rss: number; hwm: number; heapUsed: number; external: number; redisUsed: number }> => {
      const node = await nodeMemory(x.target);
      const redisUsed = x.redis === null ? 0 : (redisInfo(x.redis.port)['used_memory'] ?? Number.NaN) - x.redisBaseBytes;
      return { rss: procBytes(x.target.pid, 'VmRSS'), hwm: procBytes(x.target.pid, 'VmHWM'), ...node, redisUsed };
    };
    const floorMem = new Map<Mode, Awaited<ReturnType<typeof memOf>>>();
    for (const [mode, f] of floors) floorMem.set(mode, await memOf(f));
    const base = s.sizes[0] ?? 0;
    const rows: Array<Record<string, unknown>> = [];
    const table: string[] = [
      '| size | mode | load s | ready from stored s | process bytes/number (RSS net of floor; heap; outside heap) | Redis bytes/number | miss p50 / p99 µs | hit p50 / p99 µs | p99 / smallest size (miss; hit), per round |',
      '|---:|---|---:|---:|---|---:|---:|---:|---|',
    ];
    const budgets: string[] = [];
    const netPerNumber = new Map<string, number>();
    const redisPerNumber = new Map<string, number>();
    for (const x of [...setups].sort((a, b) => (a.mode === b.mode ? a.size - b.size : a.mode < b.mode ? -1 : 1))) {
      const mem = await memOf(x);
      const floor = floorMem.get(x.mode);
      const net = (v: number, fv: number | undefined): number => (v - (fv ?? 0)) / x.size;
      const rssNet = net(mem.rss, floor?.rss);
      netPerNumber.set(key(x.mode, x.size), net(mem.external, floor?.external));
      if (x.redis !== null) redisPerNumber.set(key(x.mode, x.size), mem.redisUsed / x.size);
      const ratioRuns: Record<string, number[]> = {};
      for (const p of PATHS) {
        const mine = runs.get(`${key(x.mode, x.size)}.${p}.p99_us`) ?? [];
        const theirs = runs.get(`${key(x.mode, base)}.${p}.p99_us`) ?? [];
        ratioRuns[p] = mine.map((v, r) => v / (theirs[r] ?? Number.NaN));
      }
      const med = (name: string): number => median(runs.get(name) ?? [Number.NaN]);
      const k = key(x.mode, x.size);
      const ratioText = x.size === base ? '1' : PATHS.map((p) => `${fmt(median(ratioRuns[p] ?? []))} (${(ratioRuns[p] ?? []).map((r) => fmt(r)).join(', ')})`).join('; ');
      table.push(`| ${x.size.toLocaleString('en')} | ${x.mode} | ${x.loadS.toFixed(1)} | ${x.readyFromStoredS.toFixed(1)} | ${fmt(rssNet)}; ${fmt(net(mem.heapUsed, floor?.heapUsed))}; ${fmt(net(mem.external, floor?.external))} | ${x.redis === null ? '–' : fmt(mem.redisUsed / x.size)} | ${fmt(med(`${k}.closed-miss.p50_us`))} / ${fmt(med(`${k}.closed-miss.p99_us`))} | ${fmt(med(`${k}.closed-block.p50_us`))} / ${fmt(med(`${k}.closed-block.p99_us`))} | ${ratioText} |`);
      rows.push({ size: x.size, mode: x.mode, loadS: x.loadS, readyFromStoredS: x.readyFromStoredS, loadPeakBytes: x.loadPeakBytes, memory: mem, floorMemory: floor, rssNetBytesPerNumber: rssNet, redisBytesPerNumber: x.redis === null ? null : mem.redisUsed / x.size, p99RatioToSmallest: ratioRuns });
    }
    // The budgets, on the largest size measured in each mode.
    for (const mode of s.modes) {
      const sizes = setups.filter((x) => x.mode === mode).map((x) => x.size);
      const largest = Math.max(...sizes);
      if (largest === base) continue;
      for (const p of PATHS) {
        const mine = runs.get(`${key(mode, largest)}.${p}.p99_us`) ?? [];
        const theirs = runs.get(`${key(mode, base)}.${p}.p99_us`) ?? [];
        const r = median(mine.map((v, i) => v / (theirs[i] ?? Number.NaN)));
        budgets.push(`${r <= P99_RATIO_BUDGET ? 'ok    ' : 'MISSED'} ${mode} ${p} p99 ${largest}/${base} = ${fmt(r)} (≤ ${P99_RATIO_BUDGET})`);
      }
      const growth = (what: string, m: ReadonlyMap<string, number>): void => {
        const g = (m.get(key(mode, largest)) ?? Number.NaN) / (m.get(key(mode, base)) ?? Number.NaN);
        budgets.push(`${g <= MEMORY_GROWTH_BUDGET ? 'ok    ' : 'MISSED'} ${mode} ${what} bytes/number ${largest}/${base} = ${fmt(g)} (≤ ${MEMORY_GROWTH_BUDGET})`);
      };
      growth('process outside the heap, net of floor,', netPerNumber);
      if (mode === 'redis') growth('Redis used_memory', redisPerNumber);
    }
    const loadAfter = loadavg();
    const machine = { ...machineInfo(), redis: redisVersion };
    const result = {
      schema: 1,
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      machine,
      settings: s,
      loadavg: { before: loadBefore, perRound: loadPerRound, after: loadAfter },
      rows,
      runs: runs.toObject(),
      budgets,
      notes,
    };
    writeResultFile(s.out, result);
    process.stdout.write(`\n${table.join('\n')}\n\n`);
    for (const b of budgets) process.stdout.write(`budget ${b}\n`);
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
    process.stdout.write(`machine: ${machine.cpus} × ${machine.model}, ${machine.memoryMb} MB, Node ${machine.node}, Redis ${redisVersion ?? '–'}; load average per round ${loadPerRound.map((l) => (l[0] ?? 0).toFixed(1)).join(', ')}; ${result.durationS.toFixed(0)} s\n`);
    process.stdout.write(`results: ${s.out}\n`);
    return 0;
  } finally {
    await stopAll();
    rmSync(scratchRoot, { recursive: true, force: true });
    if (!s.keepLists) for (const p of generated) rmSync(p, { force: true });
  }
}

runMain('growth', main);
