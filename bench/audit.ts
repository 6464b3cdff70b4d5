/**
 * Micro-benchmark of the audit trail's cost to the check path, in one run beside its baseline (the same loop
 * building the same records without writing them):
 *   1. closed loop: write() alone (µs per record on the caller's thread), then CPU of write + flush + fsync;
 *   2. open loop at fixed rates (records/s): process CPU (all threads: fs writes run in libuv's pool) as %
 *      of one core, minus the baseline loop's;
 *   3. the day's rotation: gzip of the file written, MB/s.
 *   npx tsx bench/audit.ts      (AUDIT_N=closed-loop records, default 300000; AUDIT_RATES=20000,50000,100000;
 *                               AUDIT_SECONDS per rate, default 5; AUDIT_DIR, default a temp folder)
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditLog } from '../src/audit/writer.js';
import type { AuditEvent } from '../src/audit/record.js';
import { compressFile } from '../src/audit/rotation.js';
import { silentLogger } from '../src/core/logger.js';
import { mulberry32 } from './synthetic-numbers.js';

const N = Number(process.env['AUDIT_N'] ?? 300_000);
const RATES = (process.env['AUDIT_RATES'] ?? '20000,50000,100000').split(',').map(Number);
const SECONDS = Number(process.env['AUDIT_SECONDS'] ?? 5);
const ROOT = process.env['AUDIT_DIR'] ?? mkdtempSync(join(tmpdir(), 'callgate-audit-bench-'));

const rand = mulberry32(0x2f6b_1d37);

const GENERATIONS = { bloctel: '2026-11-30T02:00:00Z#a81f', optouts: '2026-11-30T09:10:00Z#77c2', consents: '2026-11-30T02:05:00Z#19de' };

/** A check record as the service builds it (its cost is the caller's, not the log's: measured as baseline). */
function event(): AuditEvent {
  const number = `+336${String(Math.floor(rand() * 1e8)).padStart(8, '0')}`;
  const at = new Date().toISOString();
  return rand() < 0.2
    ? { type: 'check', at, number, campaign: 'winter-2026', policy: 'fr-optin', verdict: 'block', reason: 'bloctel', generations: GENERATIONS }
    : { type: 'check', at, number, campaign: 'winter-2026', policy: 'fr-optin', verdict: 'allow', reason: 'consent', basis: 'consent', dial: true, generations: GENERATIONS };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function openLog(name: string): Promise<AuditLog> {
  return AuditLog.open({ dir: join(ROOT, name), instanceId: 'bench', logger: silentLogger() });
}

/** Writes `rate` records/s in 10 ms ticks for SECONDS; returns the process CPU as % of one core. */
async function openLoop(rate: number, sink: ((e: AuditEvent) => void) | null, log: AuditLog | null): Promise<{ cpuPct: number; records: number }> {
  const perTick = rate / 100;
  const start = performance.now();
  const c0 = cpuMs();
  let sent = 0;
  let carry = 0;
  while (performance.now() - start < SECONDS * 1000) {
    const due = ((performance.now() - start) / 1000) * rate;
    carry = due - sent;
    for (let i = 0; i < Math.floor(Math.min(carry, perTick * 5)); i++) {
      const e = event();
      if (sink !== null) sink(e);
      sent++;
    }
    await sleep(10);
  }
  if (log !== null) await log.flush();
  const wall = performance.now() - start;
  return { cpuPct: ((cpuMs() - c0) / wall) * 100, records: sent };
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = { node: process.version, n: N, seconds: SECONDS, dir: ROOT };

  // 1. Closed loop.
  const events = Array.from({ length: N }, event);
  let t = performance.now();
  let chars = 0;
  for (const e of events) chars += JSON.stringify(e).length;
  const stringifyUs = ((performance.now() - t) * 1000) / N;

  // In chunks that yield to the event loop, as a server does between requests (one synchronous burst of
  // 300k records would hit the buffer bound before any flush could run).
  const log = await openLog('closed');
  const c0 = cpuMs();
  let writeMs = 0;
  for (let i = 0; i < N; i += 1000) {
    t = performance.now();
    for (let j = i; j < Math.min(i + 1000, N); j++) log.write(events[j] as AuditEvent);
    writeMs += performance.now() - t;
    await new Promise((r) => setImmediate(r));
  }
  const writeUs = (writeMs * 1000) / N;
  await log.close();
  const totalCpuUs = ((cpuMs() - c0) * 1000) / N;
  const closedDir = join(ROOT, 'closed');
  const file = join(closedDir, readdirSync(closedDir)[0] as string);
  const bytes = statSync(file).size;
  results['closed'] = { stringifyUs, writeUs, totalCpuUs, bytesPerRecord: bytes / N, stats: log.stats(), chars };

  // 3. Rotation: gzip of that file.
  t = performance.now();
  await compressFile(file);
  const gzMs = performance.now() - t;
  const gzBytes = statSync(`${file}.gz`).size;
  results['gzip'] = { mb: bytes / 1e6, ms: gzMs, mbPerS: bytes / 1e6 / (gzMs / 1000), ratio: bytes / gzBytes };

  // 2. Open loop, each rate beside its baseline (the same loop without the log).
  const open: Record<string, unknown>[] = [];
  for (const rate of RATES) {
    const base = await openLoop(rate, null, null);
    const l = await openLog(`open-${rate}`);
    const run = await openLoop(rate, (e) => l.write(e), l);
    await l.close();
    open.push({ rate, records: run.records, cpuPct: run.cpuPct, baselinePct: base.cpuPct, auditPct: run.cpuPct - base.cpuPct, usPerRecord: ((run.cpuPct - base.cpuPct) * 10_000) / rate, stats: l.stats() });
  }
  results['open'] = open;

  const c = results['closed'] as { stringifyUs: number; writeUs: number; totalCpuUs: number; bytesPerRecord: number };
  const g = results['gzip'] as { mb: number; mbPerS: number; ratio: number };
  console.log(JSON.stringify(results));
  console.log(`\nclosed loop, ${N} records (${c.bytesPerRecord.toFixed(0)} B each):`);
  console.log(`  JSON.stringify alone       ${c.stringifyUs.toFixed(2)} µs/record`);
  console.log(`  write() (caller's thread)  ${c.writeUs.toFixed(2)} µs/record`);
  console.log(`  write+flush+fsync, all CPU ${c.totalCpuUs.toFixed(2)} µs/record`);
  console.log(`rotation gzip: ${g.mb.toFixed(1)} MB at ${g.mbPerS.toFixed(0)} MB/s, ratio ${g.ratio.toFixed(1)}x`);
  console.log(`open loop (${SECONDS} s per rate): rate | CPU with log | baseline | log's share | µs/record`);
  for (const o of open as { rate: number; cpuPct: number; baselinePct: number; auditPct: number; usPerRecord: number }[]) {
    console.log(`  ${String(o.rate).padStart(7)}/s | ${o.cpuPct.toFixed(1).padStart(5)} % | ${o.baselinePct.toFixed(1).padStart(5)} % | ${o.auditPct.toFixed(1).padStart(5)} % | ${o.usPerRecord.toFixed(2)}`);
  }
  if (process.env['AUDIT_DIR'] === undefined) rmSync(ROOT, { recursive: true, force: true });
}

await main();
