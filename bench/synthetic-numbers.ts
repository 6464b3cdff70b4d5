/**
 * Synthetic phone numbers for tests and benchmarks: distinct, valid, deterministic from a seed, and
 * never held all at once (the i-th number is computed, not drawn from a Set: a JS Set stops at 2^24).
 *
 * Distinct by construction: each category owns disjoint number blocks, and the j-th number of a
 * category is a keyed permutation (Feistel network + cycle walking) of j over that category's space.
 * Blocks were checked against the libphonenumber `max` metadata (3,000 random numbers each, none
 * invalid): e.g. +33 63… and +33 69… hold unallocated or overseas ranges and are left out.
 */

export type NumberStyle =
  | 'e164' // +33612345678
  | 'e164-spaced' // +33 6 12 34 56 78, +262 692 12 34 56
  | 'intl-digits' // 33612345678
  | 'intl-00' // 0033612345678
  | 'national' // 0612345678
  | 'national-spaced' // 06 12 34 56 78
  | 'national-dotted' // 06.12.34.56.78
  | 'national-dashed' // 06-12-34-56-78
  | 'no-zero'; // 612345678 (spreadsheets drop the leading 0)

export type NumberCategory = 'metro-mobile' | 'metro-fixed' | 'overseas' | 'foreign';

interface Block {
  /** E.164 digits (without '+') every number of the block starts with. */
  readonly prefix: string;
  /** Free digits after the prefix. */
  readonly digits: number;
}

interface CategoryDef {
  readonly name: NumberCategory;
  /** Share per 100 numbers. */
  readonly weight: number;
  readonly blocks: readonly Block[];
  /**
   * Used only once `blocks` are exhausted, so that every number of a smaller list stays what it was (cached
   * list files, the driver's numbers): the overseas share (7%) runs past its 5M numbers at index ~71M.
   */
  readonly overflow?: readonly Block[];
}

function blocks(prefixes: readonly string[], digits: number): Block[] {
  return prefixes.map((prefix) => ({ prefix, digits }));
}

function expand(base: string, skip: readonly number[] = []): string[] {
  const out: string[] = [];
  for (let d = 0; d <= 9; d++) if (!skip.includes(d)) out.push(`${base}${d}`);
  return out;
}

const CATEGORIES: readonly CategoryDef[] = [
  // 06 (minus 063x, 069x) and 073–079: ARCEP mobile ranges.
  { name: 'metro-mobile', weight: 60, blocks: blocks([...expand('336', [3, 9]), ...expand('337', [0, 1, 2])], 7) },
  // 01–05 geographic and 09; 026x, 040x and 059x hold unallocated or overseas ranges.
  {
    name: 'metro-fixed',
    weight: 30,
    blocks: blocks(
      [...expand('331'), ...expand('332', [6]), ...expand('333'), ...expand('334', [0]), ...expand('335', [9]), ...expand('339')],
      7,
    ),
  },
  // Réunion mobile and fixed, Guadeloupe mobile, Martinique mobile (DOMAIN.md table).
  // Overflow (100M lists, bench/growth.ts): sub-blocks of other overseas ranges in which every number was checked
  // valid (libphonenumber max, all 100,000 each) and normalised back to itself from each list style.
  {
    name: 'overseas',
    weight: 7,
    blocks: blocks(['262692', '262262', '590690', '596696', '596697'], 6),
    overflow: blocks(
      [
        '2626934', '5946940', '5946941', '5946942', '5946944', '5946949', '2622630', '2626392', '2626396', '2626397',
        '2622696', '5905900', '5905901', '5905902', '5905903', '5905904', '5905905', '5905908', '5905909', '5965960',
        '5965963', '5965964', '5965965', '5965966', '5965967', '5945940', '5945942', '5945943', '5945944', '5945949',
      ],
      5,
    ),
  },
  // Belgian, Swiss, British, Spanish mobiles.
  {
    name: 'foreign',
    weight: 3,
    blocks: [...blocks(['3247', '3248', '3249', '4175', '4176', '4177', '4178', '4179'], 7), ...blocks(['4474', '4475', '4478', '346'], 8)],
  },
];

const FR_FAMILY = ['33', '262', '590', '594', '596'] as const;

/** Country code of a French or overseas E.164 number, or null for any other country. */
function frenchCountryCode(e164: string): string | null {
  for (const cc of FR_FAMILY) if (e164.startsWith(cc, 1)) return cc;
  return null;
}

function pairs(national: string, sep: string): string {
  let out = national.slice(0, 2);
  for (let i = 2; i < national.length; i += 2) out += sep + national.slice(i, i + 2);
  return out;
}

/**
 * Writes an E.164 number in a style. National styles apply to France and its overseas departments
 * (`0` + national number); for other countries they fall back to E.164.
 */
export function formatNumber(e164: string, style: NumberStyle): string {
  const digits = e164.slice(1);
  const cc = frenchCountryCode(e164);
  switch (style) {
    case 'e164':
      return e164;
    case 'intl-digits':
      return digits;
    case 'intl-00':
      return `00${digits}`;
    default:
      break;
  }
  if (cc === null) return e164;
  const nsn = digits.slice(cc.length);
  switch (style) {
    case 'e164-spaced':
      // +33 6 12 34 56 78; overseas numbers group as +262 692 12 34 56.
      return cc === '33' ? `+33 ${nsn.slice(0, 1)} ${pairs(nsn.slice(1), ' ')}` : `+${cc} ${nsn.slice(0, 3)} ${pairs(nsn.slice(3), ' ')}`;
    case 'national':
      return `0${nsn}`;
    case 'national-spaced':
      return pairs(`0${nsn}`, ' ');
    case 'national-dotted':
      return pairs(`0${nsn}`, '.');
    case 'national-dashed':
      return pairs(`0${nsn}`, '-');
    case 'no-zero':
      return nsn;
    default: {
      const never: never = style;
      throw new Error(`unknown style ${String(never)}`);
    }
  }
}

// Style mixes per 100 lines. Overseas numbers appear as lists write them (0692…, +262…), never as
// 262692… or 692…, whose reading is ambiguous; foreign numbers only with their country code.
const METRO_MIX = mix([
  ['national', 35], ['national-spaced', 15], ['national-dotted', 5], ['national-dashed', 2], ['e164', 20],
  ['intl-digits', 10], ['no-zero', 7], ['e164-spaced', 3], ['intl-00', 3],
]);
const OVERSEAS_MIX = mix([['national', 50], ['national-spaced', 15], ['national-dotted', 5], ['e164', 25], ['e164-spaced', 5]]);
const FOREIGN_MIX = mix([['e164', 90], ['intl-00', 10]]);

function mix(weights: readonly (readonly [NumberStyle, number])[]): readonly NumberStyle[] {
  const out: NumberStyle[] = [];
  for (const [style, w] of weights) for (let k = 0; k < w; k++) out.push(style);
  if (out.length !== 100) throw new Error(`style mix sums to ${out.length}, expected 100`);
  return out;
}

/** The styles a mixed list uses for this number (every one valid for the normaliser). */
export function stylesFor(e164: string): readonly NumberStyle[] {
  const cc = frenchCountryCode(e164);
  if (cc === '33') return [...new Set(METRO_MIX)];
  if (cc !== null) return [...new Set(OVERSEAS_MIX)];
  return [...new Set(FOREIGN_MIX)];
}

/** The i-th line of a mixed-format list: a style chosen deterministically from (i, seed). */
export function formatMixed(e164: string, i: number, seed: number): string {
  const cc = frenchCountryCode(e164);
  const table = cc === '33' ? METRO_MIX : cc !== null ? OVERSEAS_MIX : FOREIGN_MIX;
  return formatNumber(e164, table[hash32(i ^ Math.imul(seed, 0x9e3779b1)) % 100] ?? 'e164');
}

/** Yields n distinct valid E.164 numbers, deterministic from the seed. */
export function* generateNumbers(n: number, seed = 1): Generator<string> {
  const gen = new SyntheticNumbers(seed);
  for (let i = 0; i < n; i++) yield gen.at(i);
}

/** Random access to the sequence generateNumbers yields: `at(i)` is its i-th number. */
export class SyntheticNumbers {
  readonly #categories: readonly PreparedCategory[];
  /** For each position in a block of 100: its category index and rank within that category. */
  readonly #slotCategory: Uint8Array;
  readonly #slotRank: Uint8Array;

  constructor(seed: number) {
    const rand = mulberry32(seed);
    this.#categories = CATEGORIES.map((c, k) => prepare(c, (Math.imul(seed, 0x85ebca6b) ^ (k + 1) * 0x27d4eb2f) >>> 0));
    // Shuffle which slots of each 100 belong to which category, so categories interleave.
    const slots: number[] = [];
    CATEGORIES.forEach((c, k) => {
      for (let w = 0; w < c.weight; w++) slots.push(k);
    });
    if (slots.length !== 100) throw new Error(`category weights sum to ${slots.length}, expected 100`);
    for (let i = slots.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = slots[i] ?? 0;
      slots[i] = slots[j] ?? 0;
      slots[j] = t;
    }
    this.#slotCategory = new Uint8Array(100);
    this.#slotRank = new Uint8Array(100);
    const seen = new Array<number>(CATEGORIES.length).fill(0);
    slots.forEach((k, pos) => {
      this.#slotCategory[pos] = k;
      this.#slotRank[pos] = seen[k] ?? 0;
      seen[k] = (seen[k] ?? 0) + 1;
    });
  }

  at(i: number): string {
    const pos = i % 100;
    const k = this.#slotCategory[pos] ?? 0;
    const cat = this.#categories[k];
    if (cat === undefined) throw new Error('unreachable: category index');
    const j = Math.floor(i / 100) * cat.weight + (this.#slotRank[pos] ?? 0);
    if (j < cat.size) return cat.numberAt(permute(j, cat));
    const over = cat.overflow;
    if (over === null || j - cat.size >= over.size) throw new RangeError(`synthetic ${cat.name} numbers exhausted at index ${i}`);
    return over.numberAt(permute(j - cat.size, over));
  }
}

interface PreparedCategory {
  readonly name: NumberCategory;
  readonly weight: number;
  readonly size: number;
  readonly halfBits: number;
  readonly keys: readonly number[];
  /** The overflow blocks as a space of their own (own key), or null. */
  readonly overflow: PreparedCategory | null;
  numberAt(x: number): string;
}

function prepare(def: CategoryDef, key: number): PreparedCategory {
  const starts: number[] = [];
  let size = 0;
  for (const b of def.blocks) {
    starts.push(size);
    size += 10 ** b.digits;
  }
  // Bitwise Feistel halves need the whole space below 2^31.
  if (size > 2 ** 30) throw new Error(`category ${def.name} space ${size} too large for the permutation`);
  let halfBits = 1;
  while (2 ** (2 * halfBits) < size) halfBits++;
  const rand = mulberry32(key);
  const keys = [0, 0, 0, 0].map(() => Math.floor(rand() * 0x100000000));
  return {
    name: def.name,
    weight: def.weight,
    size,
    halfBits,
    keys,
    overflow: def.overflow === undefined ? null : prepare({ name: def.name, weight: def.weight, blocks: def.overflow }, (key ^ 0x5bd1e995) >>> 0),
    numberAt(x: number): string {
      // Binary search the block holding offset x.
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((starts[mid] ?? 0) <= x) lo = mid;
        else hi = mid - 1;
      }
      const b = def.blocks[lo];
      if (b === undefined) throw new Error('unreachable: block index');
      return `+${b.prefix}${String(x - (starts[lo] ?? 0)).padStart(b.digits, '0')}`;
    },
  };
}

/** A keyed bijection of [0, size): a balanced Feistel network on 2·halfBits bits, cycle-walked into range. */
function permute(j: number, cat: PreparedCategory): number {
  const mask = (1 << cat.halfBits) - 1;
  let x = j;
  do {
    let l = Math.floor(x / 2 ** cat.halfBits);
    let r = x & mask;
    for (const k of cat.keys) {
      const t = l ^ (hash32(r ^ k) & mask);
      l = r;
      r = t;
    }
    x = l * 2 ** cat.halfBits + r;
  } while (x >= cat.size);
  return x;
}

/** murmur3 finaliser: a cheap 32-bit mix. */
function hash32(v: number): number {
  let h = v | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Small seeded PRNG (mulberry32): deterministic, so that benchmark runs compare. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
