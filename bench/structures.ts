/**
 * Micro-benchmark of the in-memory membership structures, each beside its baselines in the same run:
 *   NumberFilter (bloom-filters + fmix32 hashing): build, has() via our loop and via the library, FP rate, binary
 *   bloom-filters with its default xxhash (strings in), at --lib-size since it is slow
 *   ExactSet (sorted Float64Array): build, has()
 *   JS Set<number> at --set-size (a Set holds at most 2^24 entries)
 * Usage: npx tsx bench/structures.ts [--size 12000000] [--rate 0.001] [--set-size 2000000] [--lib-size 100000]
 *        [--probes 1000000] [--json]
 * Big sizes allocate ~0.5 GB and take about a minute: run once, the machine is shared.
 */
import { parseArgs } from 'node:util';
import pkg from 'bloom-filters';
import { NumberFilter } from '../src/lists/bloom.js';
import { ExactSet } from '../src/lists/exact-set.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '12000000' },
    rate: { type: 'string', default: '0.001' },
    'set-size': { type: 'string', default: '2000000' },
    'lib-size': { type: 'string', default: '100000' },
    probes: { type: 'string', default: '1000000' },
    json: { type: 'boolean', default: false },
  },
});
const size = Number(values.size);
const rate = Number(values.rate);
const setSize = Math.min(Number(values['set-size']), size);
const libSize = Math.min(Number(values['lib-size']), size);
const probeCount = Number(values.probes);

// xorshift32: reproducible keys without a dependency.
let state = 0x2545f491;
function random(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4_294_967_296;
}
/** French-looking keys: 33 + 9 digits (01–09 ranges). */
function randomKey(): number {
  return 33_100_000_000 + Math.floor(random() * 900_000_000);
}
function keysOf(count: number): Float64Array {
  const keys = new Float64Array(count);
  for (let i = 0; i < count; i++) keys[i] = randomKey();
  return keys;
}
function sample(from: Float64Array, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = from[Math.floor(random() * from.length)]!;
  return out;
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
/** ns per call of `has` over `probes`, after a warm-up pass; returns hit count too so nothing is optimised away. */
function lookupNs(has: (key: number) => boolean, probes: Float64Array): { ns: number; hits: number } {
  let hits = 0;
  for (let i = 0; i < Math.min(probes.length, 100_000); i++) if (has(probes[i]!)) hits++;
  hits = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < probes.length; i++) if (has(probes[i]!)) hits++;
  return { ns: Number(process.hrtime.bigint() - start) / probes.length, hits };
}
function heapBytes(): number {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

interface Row {
  structure: string;
  items: number;
  buildS: number;
  bytesPerKey: number;
  memberNs: number;
  missNs: number;
  note: string;
}
const rows: Row[] = [];
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

const members = keysOf(size);
const missProbes = keysOf(probeCount); // ~size/9e8 of these are members: a few %, counted in FP below
const memberProbes = sample(members, probeCount);

// --- NumberFilter ---
let start = process.hrtime.bigint();
const filter = NumberFilter.create(size, rate);
for (let i = 0; i < size; i++) filter.add(members[i]!);
const filterBuildS = seconds(start);
const fMember = lookupNs((k) => filter.has(k), memberProbes);
const fMiss = lookupNs((k) => filter.has(k), missProbes);
const lMember = lookupNs((k) => filter.hasViaLibrary(k), memberProbes);
const lMiss = lookupNs((k) => filter.hasViaLibrary(k), missProbes);
if (fMember.hits !== probeCount || lMember.hits !== probeCount) throw new Error('false negative!');

// --- ExactSet (copy: build sorts in place and the filter FP check below needs it) ---
const copy = members.slice();
start = process.hrtime.bigint();
const { set: exact, duplicates } = ExactSet.build(copy);
const exactBuildS = seconds(start);
const eMember = lookupNs((k) => exact.has(k), memberProbes);
const eMiss = lookupNs((k) => exact.has(k), missProbes);
if (eMember.hits !== probeCount) throw new Error('ExactSet false negative!');

// FP rate: probes that are not members, answered "maybe" by the filter.
let fpProbes = 0;
let fp = 0;
for (let round = 0; round < 3; round++) {
  for (const key of keysOf(probeCount)) {
    if (exact.has(key)) continue;
    fpProbes++;
    if (filter.has(key)) fp++;
  }
}

start = process.hrtime.bigint();
const bin = filter.toBinary();
const toBinaryS = seconds(start);
start = process.hrtime.bigint();
const reread = NumberFilter.fromBinary(bin);
const fromBinaryS = seconds(start);
for (let i = 0; i < 10_000; i++) if (reread.has(missProbes[i]!) !== filter.has(missProbes[i]!)) throw new Error('binary mismatch');

rows.push({
  structure: 'NumberFilter has() (own loop)',
  items: size,
  buildS: r3(filterBuildS),
  bytesPerKey: r3(filter.byteLength / size),
  memberNs: Math.round(fMember.ns),
  missNs: Math.round(fMiss.ns),
  note: `k=${filter.hashes} m=${filter.bits} FP ${(fp / fpProbes).toFixed(5)} (${fp}/${fpProbes}); binary ${bin.length} B, to ${r3(toBinaryS)} s, from ${r3(fromBinaryS)} s`,
});
rows.push({
  structure: 'NumberFilter via library has()',
  items: size,
  buildS: r3(filterBuildS),
  bytesPerKey: r3(filter.byteLength / size),
  memberNs: Math.round(lMember.ns),
  missNs: Math.round(lMiss.ns),
  note: 'same filter, BloomFilter.has + NumberKeyHashing (build always goes through the library add)',
});
rows.push({
  structure: 'ExactSet (sorted Float64Array)',
  items: exact.size,
  buildS: r3(exactBuildS),
  bytesPerKey: r3(exact.byteLength / exact.size),
  memberNs: Math.round(eMember.ns),
  missNs: Math.round(eMiss.ns),
  note: `${duplicates} duplicates dropped`,
});

// --- Baseline: bloom-filters with default hashing, string keys, small size ---
{
  const { BloomFilter } = pkg;
  const libKeys = Array.from(members.subarray(0, libSize), String);
  start = process.hrtime.bigint();
  const lib = BloomFilter.create(libSize, rate);
  for (const key of libKeys) lib.add(key);
  const buildS = seconds(start);
  const probes = 20_000;
  const memberStr = Array.from({ length: probes }, () => libKeys[Math.floor(random() * libSize)]!);
  const missStr = Array.from(missProbes.subarray(0, probes), String);
  const time = (list: string[]): number => {
    const t = process.hrtime.bigint();
    let hits = 0;
    for (const key of list) if (lib.has(key)) hits++;
    if (hits < 0) throw new Error('unreachable');
    return Number(process.hrtime.bigint() - t) / list.length;
  };
  rows.push({
    structure: 'bloom-filters default xxhash (string in)',
    items: libSize,
    buildS: r3(buildS),
    bytesPerKey: r3(lib._filter.array.byteLength / libSize),
    memberNs: Math.round(time(memberStr)),
    missNs: Math.round(time(missStr)),
    note: `extrapolated build for ${size}: ${r3((buildS * size) / libSize)} s`,
  });
}

// --- Baseline: Set<number> ---
{
  const before = heapBytes();
  start = process.hrtime.bigint();
  const set = new Set<number>();
  for (let i = 0; i < setSize; i++) set.add(members[i]!);
  const buildS = seconds(start);
  const bytes = heapBytes() - before;
  const setMemberProbes = sample(members.subarray(0, setSize), probeCount);
  const sMember = lookupNs((k) => set.has(k), setMemberProbes);
  const sMiss = lookupNs((k) => set.has(k), missProbes);
  // The same sizes for the ExactSet, to compare like with like.
  const small = ExactSet.build(members.slice(0, setSize)).set;
  const smallMember = lookupNs((k) => small.has(k), setMemberProbes);
  rows.push({
    structure: 'JS Set<number>',
    items: set.size,
    buildS: r3(buildS),
    bytesPerKey: globalThis.gc ? r3(bytes / set.size) : Number.NaN,
    memberNs: Math.round(sMember.ns),
    missNs: Math.round(sMiss.ns),
    note: `ExactSet of the same ${small.size}: member ${Math.round(smallMember.ns)} ns${globalThis.gc ? '' : '; memory needs --expose-gc'}`,
  });
}

if (values.json) {
  console.log(JSON.stringify({ size, rate, node: process.version, rows }, null, 2));
} else {
  console.log(`size ${size}, rate ${rate}, ${probeCount} probes, node ${process.version}`);
  console.table(rows);
}
