/**
 * The Bloom fast path of one list: "certainly not listed" or "maybe listed" for a NumberKey.
 * The only file that imports `bloom-filters` (CommonJS; importing it patches the global `Reflect`
 * through reflect-metadata). The library sizes the filter (`BloomFilter.create`), owns the bit array
 * and, through the documented `Hashing` extension (README "Seeding and Hashing"), hashes with ours.
 */
import { crc32 } from 'node:zlib';
import pkg from 'bloom-filters';
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { NumberKey } from '../numbers/number-key.js';

const { BloomFilter, Hashing } = pkg;
type LibBloomFilter = InstanceType<typeof BloomFilter>;
type HashableInput = Parameters<LibBloomFilter['add']>[0];

/** Fixed seed of the key hash; part of FILTER_HASH_ID, so changing it invalidates stored filters. */
const FILTER_SEED = 0x5bd1e995;

/**
 * Identity of the hashing: key split into 32-bit halves, murmur3 fmix32, double hashing mod m, LSB-first
 * bytes (the library's BitSet layout). Bump the version on ANY change to hashing or bit layout: a filter
 * read with another hash answers "not listed" for listed numbers.
 */
export const FILTER_HASH_ID = `fmix32-dh-v1:seed=0x${FILTER_SEED.toString(16)}`;

const TWO_POW_32 = 4_294_967_296;
/** Indexes come from 32-bit hashes mod m: past 2^32 bits the top of the filter would never be used. */
const MAX_BITS = TWO_POW_32;
const MAX_HASHES = 64;

// murmur3 finaliser (Appleby, MurmurHash3.cpp): full avalanche of a 32-bit word in 2 multiplies.
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// Two hashes from the integer key, no string or buffer. Keys are < 2^53, so `>>> 0` is the low half
// exactly and the division the high half. Both are bijections of `lo` for a given `hi`, so two keys
// only share their index sequence by sharing h1 and h2 mod m (Kirsch & Mitzenmacher 2006: double
// hashing h1 + i*h2 keeps the false-positive rate of k independent hashes).
function hash1(lo: number, mixedHi: number): number {
  return fmix32((lo ^ mixedHi) >>> 0);
}
function hash2(lo: number, mixedHi: number): number {
  return fmix32(((lo << 16) | (lo >>> 16)) ^ Math.imul(mixedHi, 0x9e3779b1) ^ 0x27d4eb2f);
}
function mixHi(key: number, seed: number): number {
  return fmix32(((key / TWO_POW_32) >>> 0) ^ seed);
}

/**
 * The library's `Hashing`, overridden for NumberKeys. It returns ONE reused array: BloomFilter.add/has
 * consume it at once and the process is single-threaded, so no allocation per call.
 */
class NumberKeyHashing extends Hashing {
  #indexes: number[] = [];

  override getIndexes(element: HashableInput | NumberKey, size: number, hashCount: number, seed?: number): number[] {
    if (typeof element !== 'number') {
      throw new CallgateError(ErrorCode.FILTER_FORMAT, 'NumberFilter hashes NumberKeys only');
    }
    if (this.#indexes.length !== hashCount) this.#indexes = new Array<number>(hashCount).fill(0);
    const out = this.#indexes;
    const mixedHi = mixHi(element, (seed ?? FILTER_SEED) >>> 0);
    const lo = element >>> 0;
    let index = hash1(lo, mixedHi) % size;
    // A zero step would put all k probes on one bit.
    const step = hash2(lo, mixedHi) % size || 1;
    for (let i = 0; i < hashCount; i++) {
      out[i] = index;
      index += step;
      if (index >= size) index -= size;
    }
    return out;
  }
}

/** The library's add/has hand the element untouched to `_hashing.getIndexes`, which takes numbers here. */
interface NumberKeyBloom {
  add(key: NumberKey): void;
  has(key: NumberKey): boolean;
}

function attachHashing(lib: LibBloomFilter): LibBloomFilter {
  lib.seed = FILTER_SEED;
  lib._hashing = new NumberKeyHashing();
  return lib;
}

// Binary layout, little-endian. Fixed part, then the hash id (ASCII), then the raw bit bytes.
const MAGIC = 0x46424743; // 'CGBF' read as u32 LE
const FORMAT_VERSION = 1;
const OFF_VERSION = 4; // u16
const OFF_HASHES = 6; // u16
const OFF_SEED = 8; // u32
const OFF_BITS = 12; // u48
const OFF_ITEMS = 18; // u48
const OFF_PAYLOAD_LEN = 24; // u32
const OFF_CRC = 28; // u32, crc32 of the bit bytes: a flipped bit could turn a listed number into "allow"
const OFF_HASH_ID_LEN = 32; // u16
const FIXED_HEADER = 34;

function formatError(message: string): CallgateError {
  return new CallgateError(ErrorCode.FILTER_FORMAT, `invalid filter binary: ${message}`);
}

export class NumberFilter {
  readonly hashId: string = FILTER_HASH_ID;
  readonly #lib: NumberKeyBloom;
  // The same bytes as the library's BitSet, read directly by has(): see the note there.
  readonly #bytes: Uint8Array;
  readonly #bits: number;
  readonly #hashes: number;
  #count = 0;

  private constructor(lib: LibBloomFilter) {
    this.#lib = attachHashing(lib) as unknown as NumberKeyBloom;
    this.#bytes = lib._filter.array;
    this.#bits = lib._size;
    this.#hashes = lib._nbHashes;
  }

  static #layoutVerified = false;

  // has() reads the library's BitSet bytes itself: if a library upgrade changed that layout, has() would
  // answer "not listed" for listed numbers. Checked once per process, on a tiny filter, before first use.
  static #verifyLayout(): void {
    if (NumberFilter.#layoutVerified) return;
    const probe = new NumberFilter(BloomFilter.create(64, 0.01));
    for (let i = 0; i < 64; i++) probe.add(33_600_000_000 + i * 7_919_993);
    for (let i = 0; i < 64; i++) {
      if (!probe.has(33_600_000_000 + i * 7_919_993)) {
        throw new CallgateError(ErrorCode.FILTER_FORMAT, 'bloom-filters bit layout differs from the one NumberFilter.has() reads');
      }
    }
    NumberFilter.#layoutVerified = true;
  }

  /** Sized by the library: m = -n ln p / (ln 2)^2 bits, k = ceil(m/n ln 2) hashes. */
  static create(expectedItems: number, falsePositiveRate: number): NumberFilter {
    if (!Number.isSafeInteger(expectedItems) || expectedItems < 0) {
      throw new CallgateError(ErrorCode.CONFIG, `expectedItems: expected an integer >= 0, got ${expectedItems}`);
    }
    if (!(falsePositiveRate > 0 && falsePositiveRate < 1)) {
      throw new CallgateError(ErrorCode.CONFIG, `falsePositiveRate: expected a number in (0, 1), got ${falsePositiveRate}`);
    }
    // An empty list still needs a valid (always "no") filter; the library cannot size one for 0 items.
    const items = Math.max(1, expectedItems);
    // The library's optimalFilterSize (not exported), checked before it allocates the bit array.
    const bits = Math.ceil(-((items * Math.log(falsePositiveRate)) / Math.pow(Math.log(2), 2)));
    if (bits > MAX_BITS) {
      throw new CallgateError(
        ErrorCode.CAPACITY,
        `filter for ${expectedItems} items at ${falsePositiveRate} needs ${bits} bits; at most ${MAX_BITS}`,
      );
    }
    NumberFilter.#verifyLayout();
    const lib = BloomFilter.create(items, falsePositiveRate);
    if (lib._size !== bits || lib._nbHashes > MAX_HASHES) {
      throw new CallgateError(ErrorCode.CAPACITY, `unexpected sizing: ${lib._size} bits, ${lib._nbHashes} hashes`);
    }
    return new NumberFilter(lib);
  }

  static fromBinary(buf: Buffer): NumberFilter {
    if (buf.length < FIXED_HEADER) throw formatError(`${buf.length} bytes, shorter than the ${FIXED_HEADER}-byte header`);
    if (buf.readUInt32LE(0) !== MAGIC) throw formatError('bad magic');
    const version = buf.readUInt16LE(OFF_VERSION);
    if (version !== FORMAT_VERSION) throw formatError(`format version ${version}, expected ${FORMAT_VERSION}`);
    const hashIdLen = buf.readUInt16LE(OFF_HASH_ID_LEN);
    const payloadStart = FIXED_HEADER + hashIdLen;
    if (buf.length < payloadStart) throw formatError('truncated header');
    const hashId = buf.toString('latin1', FIXED_HEADER, payloadStart);
    if (hashId !== FILTER_HASH_ID) throw formatError(`hash id '${hashId}', this build reads '${FILTER_HASH_ID}'`);
    const seed = buf.readUInt32LE(OFF_SEED);
    if (seed !== FILTER_SEED) throw formatError(`seed ${seed}, expected ${FILTER_SEED}`);
    const hashes = buf.readUInt16LE(OFF_HASHES);
    if (hashes < 1 || hashes > MAX_HASHES) throw formatError(`${hashes} hashes`);
    const bits = buf.readUIntLE(OFF_BITS, 6);
    if (bits < 1 || bits > MAX_BITS) throw formatError(`${bits} bits`);
    const payloadLen = buf.readUInt32LE(OFF_PAYLOAD_LEN);
    if (payloadLen !== Math.ceil(bits / 8)) throw formatError(`${payloadLen} payload bytes for ${bits} bits`);
    if (buf.length !== payloadStart + payloadLen) {
      throw formatError(`${buf.length} bytes, expected ${payloadStart + payloadLen}`);
    }
    const payload = buf.subarray(payloadStart);
    if (crc32(payload) !== buf.readUInt32LE(OFF_CRC)) throw formatError('bit array checksum mismatch');

    NumberFilter.#verifyLayout();
    const filter = new NumberFilter(new BloomFilter(bits, hashes));
    if (filter.#bytes.length !== payloadLen) throw formatError('bit array size mismatch');
    filter.#bytes.set(payload);
    filter.#count = buf.readUIntLE(OFF_ITEMS, 6);
    return filter;
  }

  /** Number of bits (m). */
  get bits(): number {
    return this.#bits;
  }

  /** Number of hash functions (k). */
  get hashes(): number {
    return this.#hashes;
  }

  /** Memory held by the bit array. */
  get byteLength(): number {
    return this.#bytes.byteLength;
  }

  /** Number of add() calls (duplicates included). */
  get count(): number {
    return this.#count;
  }

  add(key: NumberKey): void {
    // Build time only: a key that is not an exact integer would be hashed as another key.
    if (!Number.isSafeInteger(key) || key < 0) {
      throw new CallgateError(ErrorCode.CONFIG, `NumberFilter.add: expected a NumberKey, got ${key}`);
    }
    this.#lib.add(key);
    this.#count++;
  }

  /**
   * false: certainly not added. true: maybe added (false-positive rate as configured).
   * Same indexes as NumberKeyHashing, computed inline and stopping at the first clear bit instead of
   * going through the library's has(). bench/structures.ts, 12M keys at 0.1%, 1M random probes, 2-core VM:
   * this loop 175 ns (member) / 168 ns (non-member); library has() 498 / 301 ns (its BitSet divides and
   * takes float modulos per probe and cannot stop before all k indexes are computed). Build stays on the
   * library's add(): 5.9 s for 12M keys. The layout both rely on is verified once by create().
   */
  has(key: NumberKey): boolean {
    const size = this.#bits;
    const bytes = this.#bytes;
    const mixedHi = mixHi(key, FILTER_SEED);
    const lo = key >>> 0;
    let index = hash1(lo, mixedHi) % size;
    const step = hash2(lo, mixedHi) % size || 1;
    for (let i = this.#hashes; i > 0; i--) {
      if ((bytes[index >>> 3]! & (1 << (index & 7))) === 0) return false;
      index += step;
      if (index >= size) index -= size;
    }
    return true;
  }

  /** The library's own has() (with our hashing): kept for the benchmark and as a cross-check in tests. */
  hasViaLibrary(key: NumberKey): boolean {
    return this.#lib.has(key);
  }

  /** Compact binary: header (magic, format version, hash id, bits, hashes, seed, items, crc32) + raw bit bytes. */
  toBinary(): Buffer {
    const hashIdBytes = Buffer.from(this.hashId, 'latin1');
    const payloadStart = FIXED_HEADER + hashIdBytes.length;
    const out = Buffer.allocUnsafe(payloadStart + this.#bytes.length);
    out.writeUInt32LE(MAGIC, 0);
    out.writeUInt16LE(FORMAT_VERSION, OFF_VERSION);
    out.writeUInt16LE(this.#hashes, OFF_HASHES);
    out.writeUInt32LE(FILTER_SEED, OFF_SEED);
    out.writeUIntLE(this.#bits, OFF_BITS, 6);
    out.writeUIntLE(this.#count, OFF_ITEMS, 6);
    out.writeUInt32LE(this.#bytes.length, OFF_PAYLOAD_LEN);
    out.writeUInt32LE(crc32(this.#bytes), OFF_CRC);
    out.writeUInt16LE(hashIdBytes.length, OFF_HASH_ID_LEN);
    hashIdBytes.copy(out, FIXED_HEADER);
    out.set(this.#bytes, payloadStart);
    return out;
  }
}
