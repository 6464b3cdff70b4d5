/**
 * CPU per record of the durable copy's journal (issue 17), A/B in one process: a record every ~1 ms (as one
 * counted dial at 1k/s) appended with append() (its own write + datasync each, unless one is in flight),
 * with appendSoon() (flushes shared within SOON_FLUSH_MS), and none (the 1 ms timer alone, the baseline).
 * Interleaved rounds; per round, this process's CPU (user + system: the datasync runs on libuv's pool) per tick.
 *   node --import tsx bench/journal-cost.ts      (ROUNDS=4 SECONDS=2 by default)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IntradayJournal } from '../src/backends/journal.js';

const ROUNDS = Number(process.env.ROUNDS ?? 4);
const SECONDS = Number(process.env.SECONDS ?? 2);
const dir = mkdtempSync(join(tmpdir(), 'callgate-journal-cost-'));
const { journal } = await IntradayJournal.open(join(dir, 'journal.jsonl'));
const modes = ['none', 'append', 'appendSoon'] as const;
const per: Record<string, number[]> = {};
let k = 0;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of modes) {
    await sleep(50);
    const before = process.cpuUsage();
    const t0 = performance.now();
    let n = 0;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        n++;
        k++;
        const e = { op: 'attempt' as const, key: 33_600_000_000 + k, at: Date.now(), member: `${Date.now()}-bench.${k}` };
        if (mode === 'append') void journal.append(e);
        else if (mode === 'appendSoon') void journal.appendSoon(e);
        if (performance.now() - t0 > SECONDS * 1000) {
          clearInterval(tick);
          resolve();
        }
      }, 1);
    });
    await sleep(30);
    const used = process.cpuUsage(before);
    (per[mode] ??= []).push((used.user + used.system) / n);
  }
}
await journal.close();
rmSync(dir, { recursive: true, force: true });
const med = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1] ?? Number.NaN;
const none = per['none'] ?? [];
for (const mode of modes) {
  const v = per[mode] ?? [];
  const over = v.map((x, i) => x - (none[i] ?? Number.NaN));
  console.log(`${mode}: ${v.map((x) => x.toFixed(0)).join(' ')} µs CPU per tick; over none per round ${over.map((x) => x.toFixed(0)).join(' ')} (median ${med(over).toFixed(0)})`);
}
