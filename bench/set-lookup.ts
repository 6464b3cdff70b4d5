/**
 * Baseline: an in-process JS `Set<string>` of the list's E.164 numbers, asked about a mix of listed and
 * unlisted numbers, no network. The cost of a membership lookup with no WebSocket, no parsing.
 *   node --import tsx bench/set-lookup.ts --size N [--seed 1] [--passes 5]
 * Prints one JSON line: { "figures": { "set-lookup.ns": [pass1, pass2, …] } } (ns per lookup per pass).
 */
import { parseArgs } from 'node:util';
import { blockE164, missE164 } from './bench-numbers.js';
import { generateNumbers } from './synthetic-numbers.js';

/** A JS Set throws RangeError past 2^24 entries (BASELINES.md): the baseline holds at most that many. */
const MAX_SET_SIZE = 2 ** 24 - 1;
const LOOKUPS_PER_PASS = 2_000_000;

const { values } = parseArgs({
  options: { size: { type: 'string' }, seed: { type: 'string', default: '1' }, passes: { type: 'string', default: '5' } },
  strict: true,
});
const size = Math.min(Number(values.size), MAX_SET_SIZE);
const seed = Number(values.seed);
const set = new Set<string>();
for (const n of generateNumbers(size, seed)) set.add(n);
const block = blockE164(size, seed);
const miss = missE164(size, seed);
// Fresh string copies: a lookup must hash the string, as a lookup of a decoded request would.
const probes = miss.map((m, i) => (i % 10 === 0 ? (block[i] ?? m) : m)).map((s) => `${s.slice(0, 4)}${s.slice(4)}`);
const runs: number[] = [];
let found = 0;
for (let p = 0; p < Number(values.passes); p++) {
  const t0 = performance.now();
  for (let i = 0; i < LOOKUPS_PER_PASS; i++) if (set.has(probes[i % probes.length] ?? '')) found++;
  runs.push(((performance.now() - t0) * 1e6) / LOOKUPS_PER_PASS);
}
if (found === 0) throw new Error('no probe was found: the Set baseline is broken');
process.stdout.write(`${JSON.stringify({ figures: { 'set-lookup.ns': runs }, setSize: size })}\n`);
