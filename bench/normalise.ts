/**
 * Micro-benchmark: ns per number for the raw library (parse + isValid, its own baseline), the
 * reference path `normaliseFull` and `normalise` (fast path), on one realistic mix, in one run.
 *   npx tsx bench/normalise.ts            (BENCH_N=numbers per round, default 200000; BENCH_ROUNDS=5)
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { normalise, normaliseFull, NORMALISER_VERSION, otherReading } from '../src/numbers/normalise.js';
import { mulberry32 } from './synthetic-numbers.js';

const N = Number(process.env['BENCH_N'] ?? 200_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);

const rand = mulberry32(0x2f6b_1d37);
const digits = (k: number): string => {
  let s = '';
  for (let i = 0; i < k; i++) s += String(Math.floor(rand() * 10));
  return s;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const grouped = (national10: string, sep: string): string => national10.match(/../g)?.join(sep) ?? national10;

const METRO = ['1', '2', '3', '4', '5', '6', '7', '9'];
const OVERSEAS = ['590', '690', '594', '694', '596', '696', '262', '692', '269', '639'];

/** One line as lists and dialers write it: mostly French national / +33 / 33, some overseas, foreign, invalid. */
function sample(r: number = rand()): string {
  if (r < 0.7) {
    const nsn = pick(METRO) + digits(8);
    const f = rand();
    if (f < 0.3) return `0${nsn}`;
    if (f < 0.5) return `+33${nsn}`;
    if (f < 0.65) return `33${nsn}`;
    if (f < 0.75) return grouped(`0${nsn}`, ' ');
    if (f < 0.82) return grouped(`0${nsn}`, '.');
    if (f < 0.88) return `0033${nsn}`;
    if (f < 0.94) return nsn;
    return `+33 ${nsn.charAt(0)} ${grouped(nsn.slice(1), ' ')}`;
  }
  if (r < 0.85) {
    const nsn = pick(OVERSEAS) + digits(6);
    const f = rand();
    if (f < 0.5) return `0${nsn}`;
    if (f < 0.8) return grouped(`0${nsn}`, ' ');
    const cc = nsn.startsWith('59') || nsn.startsWith('69') ? (nsn.charAt(2) === '4' ? '594' : nsn.charAt(2) === '0' ? '590' : '596') : '262';
    return `+${cc}${nsn}`;
  }
  if (r < 0.93) {
    return pick(['+44 20 7946 ', '+1 212 555 ', '+49 30 1234 ', '+32 470 12 ', '+41 79 123 ']) + digits(4);
  }
  return pick(['', '+', '0000000000', '06 12 34', `0${digits(12)}`, '06 CALL ME', `+33 ${digits(3)}`, '0612345678 ext 2', `+269 ${digits(7)}`]);
}

const mixes: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['realistic mix (70% metro, 15% overseas, 8% foreign, 7% invalid)', Array.from({ length: N }, () => sample())],
  ['French shapes only (rules 4-7)', Array.from({ length: N }, () => sample(rand() * 0.85))],
  ['9 bare digits only (rule 9, worst case)', Array.from({ length: N }, () => pick(METRO) + digits(8))],
];

function libraryRaw(raw: string): string | null {
  const p = parsePhoneNumberFromString(raw, 'FR');
  return p !== undefined && p.isValid() ? p.number : null;
}

function time(inputs: readonly string[], fn: (raw: string) => string | null): number {
  let valid = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < inputs.length; i++) if (fn(inputs[i] as string) !== null) valid++;
  const ns = Number(process.hrtime.bigint() - t0);
  if (valid < 0) throw new Error('unreachable'); // keeps the loop's result alive
  return ns / inputs.length;
}

const contenders: ReadonlyArray<readonly [string, (raw: string) => string | null]> = [
  ['libphonenumber-js/max parse+isValid (raw baseline)', libraryRaw],
  ['normaliseFull (reference path)', normaliseFull],
  ['normalise (fast path + fallback)', normalise],
  // What a check pays since rule 9: the primary reading, then the cheap test for a second one.
  ['normalise + otherReading (every reading)', (raw) => {
    const primary = normalise(raw);
    return primary === null || otherReading(raw) === null ? primary : primary;
  }],
];

console.log(`normaliser ${NORMALISER_VERSION}, node ${process.version}, ${N} numbers per mix, best of ${ROUNDS} rounds`);
const results: Array<{ mix: string; contender: string; nsPerOp: number; perSecond: number }> = [];
for (const [mix, inputs] of mixes) {
  for (const [, fn] of contenders) time(inputs, fn); // warm-up
  const best = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of contenders) best.set(name, Math.min(best.get(name) ?? Infinity, time(inputs, fn)));
  }
  let mismatches = 0;
  for (const raw of inputs) if (normalise(raw) !== normaliseFull(raw)) mismatches++;
  for (const [contender, ns] of best) results.push({ mix, contender, nsPerOp: Math.round(ns), perSecond: Math.round(1e9 / ns) });
  console.log(`\n${mix}: normalise != normaliseFull on ${mismatches} of ${inputs.length}`);
  console.table([...best].map(([contender, ns]) => ({ contender, 'ns/op': Math.round(ns), 'numbers/s': Math.round(1e9 / ns) })));
}
console.log(JSON.stringify({ bench: 'normalise', version: NORMALISER_VERSION, n: N, rounds: ROUNDS, results }));
