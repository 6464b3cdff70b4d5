/**
 * A consent list's terms held compactly: the number keys that have terms, sorted, beside one packed
 * UTF-8 buffer of their stored forms (rules/consent-terms.ts encodeTerms) and the offsets into it. Three
 * typed arrays instead of a Map of strings: ~8 + 8 bytes per number beside its text, no per-entry object,
 * built in the list worker and transferred to the main thread without a copy. A lookup is a binary search
 * plus decoding one short string. The stored form is unchanged, so Redis keeps the same hash values.
 *
 * Immutable once built, like the exact set it sits beside. Pure: no I/O.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { NumberKey } from '../numbers/number-key.js';

/** What a check reads of a generation's terms: a Map satisfies it too (tests build small ones). */
export interface TermsLookup {
  get(key: NumberKey): string | undefined;
}

/** The three arrays a TermsTable is made of: what a worker transfers. */
export interface TermsTableParts {
  /** Strictly increasing keys. */
  readonly keys: Float64Array;
  /** keys.length + 1 offsets into `bytes`, non-decreasing, from 0 to bytes.length. */
  readonly ends: Float64Array;
  readonly bytes: Uint8Array;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

export class TermsTable implements TermsLookup, Iterable<[NumberKey, string]> {
  readonly #keys: Float64Array;
  readonly #ends: Float64Array;
  readonly #bytes: Uint8Array;

  private constructor(parts: TermsTableParts) {
    this.#keys = parts.keys;
    this.#ends = parts.ends;
    this.#bytes = parts.bytes;
  }

  static readonly EMPTY: TermsTable = new TermsTable({ keys: new Float64Array(0), ends: new Float64Array(1), bytes: new Uint8Array(0) });

  /** Wraps parts built by TermsBuilder (in a worker): checked in one linear pass, not rebuilt. */
  static fromParts(parts: TermsTableParts): TermsTable {
    const { keys, ends, bytes } = parts;
    if (ends.length !== keys.length + 1 || ends[0] !== 0 || ends[keys.length] !== bytes.length) {
      throw new CallgateError(ErrorCode.CONFIG, `TermsTable.fromParts: ${keys.length} keys need ${keys.length + 1} offsets from 0 to ${bytes.length}`);
    }
    let previous = -1;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as number;
      if (!(key > previous) || !Number.isSafeInteger(key) || !((ends[i + 1] as number) >= (ends[i] as number))) {
        throw new CallgateError(ErrorCode.CONFIG, `TermsTable.fromParts: keys not strictly increasing or offsets decreasing at position ${i}`);
      }
      previous = key;
    }
    return new TermsTable(parts);
  }

  /** Numbers with terms. */
  get size(): number {
    return this.#keys.length;
  }

  /** Memory retained by the three arrays. */
  get byteLength(): number {
    return this.#keys.byteLength + this.#ends.byteLength + this.#bytes.byteLength;
  }

  /** The parts, without copying (to transfer them, or to write them to Redis). */
  parts(): TermsTableParts {
    return { keys: this.#keys, ends: this.#ends, bytes: this.#bytes };
  }

  /** Position of a key, or -1. */
  indexOf(key: NumberKey): number {
    const keys = this.#keys;
    let lo = 0;
    let hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const value = keys[mid] as number;
      if (value < key) lo = mid + 1;
      else if (value > key) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  has(key: NumberKey): boolean {
    return this.indexOf(key) !== -1;
  }

  get(key: NumberKey): string | undefined {
    const i = this.indexOf(key);
    return i === -1 ? undefined : this.termsAt(i);
  }

  keyAt(i: number): NumberKey {
    return this.#keys[i] as number;
  }

  /** The stored form at position i. */
  termsAt(i: number): string {
    return decoder.decode(this.#bytes.subarray(this.#ends[i] as number, this.#ends[i + 1] as number));
  }

  *[Symbol.iterator](): IterableIterator<[NumberKey, string]> {
    for (let i = 0; i < this.#keys.length; i++) yield [this.keyAt(i), this.termsAt(i)];
  }
}

const encoder = new TextEncoder();

/** Writes `text` as UTF-8 at `at`; the bytes written. ASCII (nearly every line) by hand: encodeInto's call costs more. */
function writeUtf8(text: string, bytes: Uint8Array, at: number): number {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return encoder.encodeInto(text, bytes.subarray(at)).written;
    bytes[at + i] = c;
  }
  return n;
}

/**
 * Collects terms line by line, in file order, into typed arrays (no object per line), then sorts and
 * packs them once. A number listed twice keeps the terms of its latest consent (the later line on a tie),
 * as a Map updated line by line would.
 */
export class TermsBuilder {
  #keys: Float64Array;
  /** Consent time of each line's terms; -Infinity when the list does not say. */
  #ats: Float64Array;
  /** Line i's text is #bytes[#starts[i] .. #starts[i+1]). */
  #starts: Float64Array;
  #bytes: Uint8Array;
  #count = 0;
  #used = 0;

  constructor(initialCapacity = 1 << 12) {
    const n = Math.max(16, initialCapacity);
    this.#keys = new Float64Array(n);
    this.#ats = new Float64Array(n);
    this.#starts = new Float64Array(n + 1);
    this.#bytes = new Uint8Array(n * 64);
  }

  add(key: NumberKey, consentedAt: number | null, encoded: string): void {
    if (this.#count === this.#keys.length) this.#growEntries();
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.#bytes.length - this.#used < encoded.length * 3) this.#growBytes(this.#used + encoded.length * 3);
    const i = this.#count++;
    this.#keys[i] = key;
    this.#ats[i] = consentedAt ?? Number.NEGATIVE_INFINITY;
    this.#used += writeUtf8(encoded, this.#bytes, this.#used);
    this.#starts[i + 1] = this.#used;
  }

  #growEntries(): void {
    const n = this.#keys.length * 2;
    const grow = (a: Float64Array, size: number): Float64Array => {
      const next = new Float64Array(size);
      next.set(a);
      return next;
    };
    this.#keys = grow(this.#keys, n);
    this.#ats = grow(this.#ats, n);
    this.#starts = grow(this.#starts, n + 1);
  }

  #growBytes(atLeast: number): void {
    const next = new Uint8Array(Math.max(atLeast, this.#bytes.length * 2));
    next.set(this.#bytes.subarray(0, this.#used));
    this.#bytes = next;
  }

  /** Sorts by key, keeps one entry per key, and packs the kept texts in key order. */
  build(): TermsTable {
    const n = this.#count;
    const keys = this.#keys;
    const ats = this.#ats;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    // Ties in key keep file order, so that the walk below sees a number's lines in the order written.
    order.sort((a, b) => (keys[a] as number) - (keys[b] as number) || a - b);
    const kept = new Uint32Array(n);
    let unique = 0;
    let total = 0;
    for (let j = 0; j < n; ) {
      const key = keys[order[j] as number] as number;
      let best = order[j] as number;
      let k = j + 1;
      for (; k < n && keys[order[k] as number] === key; k++) {
        const line = order[k] as number;
        if ((ats[line] as number) >= (ats[best] as number)) best = line;
      }
      kept[unique++] = best;
      total += (this.#starts[best + 1] as number) - (this.#starts[best] as number);
      j = k;
    }
    const outKeys = new Float64Array(unique);
    const ends = new Float64Array(unique + 1);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (let u = 0; u < unique; u++) {
      const line = kept[u] as number;
      outKeys[u] = keys[line] as number;
      const from = this.#starts[line] as number;
      const to = this.#starts[line + 1] as number;
      bytes.set(this.#bytes.subarray(from, to), at);
      at += to - from;
      ends[u + 1] = at;
    }
    return TermsTable.fromParts({ keys: outKeys, ends, bytes });
  }
}
