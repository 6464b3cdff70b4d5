/**
 * The client-overhead scenario alone, in about a minute (`npm run bench` runs it among all the others): one
 * callgate embedded on a small synthetic list, then bench/client-driver.ts against it with interleaved
 * rounds (raw, client, raw, client, …, raw). Prints the driver's per-round client/raw ratios and their
 * median on stderr and its figures on stdout. Needs `npm run build` (the server runs from dist/).
 *
 *   node --import tsx bench/client-overhead.ts [--size 200000] [--seed 1] [--rounds 7] [--measure-ms 1000] [--warmup-ms 300] [--raw-cork]
 */
import { parseArgs } from 'node:util';
import { installCleanup, runToEnd } from './children.js';
import { NODE, ROOT, TSX } from './paths.js';
import { soloOptions, startSoloCallgate } from './solo-callgate.js';
import { runMain } from './script-main.js';

async function main(): Promise<void> {
  installCleanup();
  const { values } = parseArgs({
    options: {
      ...soloOptions({ rounds: 7, measureMs: 1000, warmupMs: 300 }),
      'raw-cork': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const size = Number(values.size);
  const seed = Number(values.seed);
  const gate = await startSoloCallgate(size, seed, 'callgate-client-bench-');
  try {
    const out = await runToEnd(
      NODE,
      ['--max-semi-space-size=32', ...TSX, 'bench/client-driver.ts', '--url', gate.target.url, '--size', String(size), '--seed', String(seed), '--rounds', values.rounds, '--measure-ms', values['measure-ms'], '--warmup-ms', values['warmup-ms'], ...(values['raw-cork'] ? ['--raw-cork'] : [])],
      { cwd: ROOT },
    );
    process.stdout.write(out);
  } finally {
    await gate.close();
  }
}

runMain('client-overhead', main);
