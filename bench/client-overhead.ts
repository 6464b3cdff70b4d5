/**
 * The client-overhead scenario alone, in about a minute (`npm run bench` runs it among all the others): one
 * callgate embedded on a small synthetic list, then bench/client-driver.ts against it with interleaved
 * rounds (raw, client, raw, client, …, raw). Prints the driver's per-round client/raw ratios and their
 * median on stderr and its figures on stdout. Needs `npm run build` (the server runs from dist/).
 *
 *   node --import tsx bench/client-overhead.ts [--size 200000] [--seed 1] [--rounds 7] [--measure-ms 1000] [--warmup-ms 300] [--raw-cork]
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { installCleanup, runToEnd, stopAll } from './children.js';
import { writeSyntheticList } from './gen-list.js';
import { startTarget } from './targets.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function main(): Promise<void> {
  installCleanup();
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '200000' },
      seed: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '7' },
      'measure-ms': { type: 'string', default: '1000' },
      'warmup-ms': { type: 'string', default: '300' },
      'raw-cork': { type: 'boolean', default: false },
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
  // As bench/run.ts starts its `callgate` target: production defaults, audit trail and journal on.
  const scratch = mkdtempSync(join(tmpdir(), 'callgate-client-bench-'));
  const outcome = await startTarget({
    name: 'callgate',
    command: process.execPath,
    args: ['bin/callgate.js', 'serve', '--host', '127.0.0.1', '--port', '0', '--list', `bench=${listPath}`, '--shutdown-grace-ms', '1000', '--audit-dir', join(scratch, 'audit'), '--journal', join(scratch, 'journal.jsonl')],
    readyz: true,
    readyTimeoutMs: 120_000,
  });
  if (!outcome.ok) throw new Error(`callgate did not start: ${outcome.reason}`);
  try {
    const out = await runToEnd(
      process.execPath,
      ['--max-semi-space-size=32', '--import', 'tsx', 'bench/client-driver.ts', '--url', outcome.target.url, '--size', String(size), '--seed', String(seed), '--rounds', values.rounds, '--measure-ms', values['measure-ms'], '--warmup-ms', values['warmup-ms'], ...(values['raw-cork'] ? ['--raw-cork'] : [])],
      { cwd: ROOT },
    );
    process.stdout.write(out);
  } finally {
    await stopAll();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`client-overhead: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exitCode = 1;
});
