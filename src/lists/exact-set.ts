/**
 * The exact in-process confirmation store of one list: sorted unique NumberKeys in a Float64Array
 * (8 B per key), looked up by binary search. A JS Set costs ~57 B per entry and throws past 2^24 entries
 * (BASELINES.md); a list may hold 15+ million numbers.
 *
 * Immutable after build, so that a snapshot can be shared by every reader and a later intraday overlay
 * (additions/removals) can wrap it without copying it.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { NumberKey } from '../numbers/number-key.js';

/** A read-only view of the sorted unique keys (a Float64Array underneath; writing to it is a type error). */
export interface SortedKeys extends Iterable<number> {
  readonly length: number;
  readonly [index: number]: number;
  subarray(begin?: number, end?: number): SortedKeys;
}

// Dedup leaves spare room at the end of the array; keep it (no copy) unless it wastes more than this share.
const MAX_SLACK_FRACTION = 1 / 16;

export class ExactSet {
  readonly #keys: Float64Array;

  private constructor(keys: Float64Array) {
    this.#keys = keys;
  }

  static readonly EMPTY: ExactSet = new ExactSet(new Float64Array(0));

  /**
   * Wraps keys already sorted and deduplicated by `build` in another thread (list-build-worker):
   * checked in one linear pass (strictly increasing), not sorted again.
   */
  static fromSortedUnique(keys: Float64Array): ExactSet {
    let previous = -1;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (!(key > previous) || !Number.isSafeInteger(key)) {
        throw new CallgateError(ErrorCode.CONFIG, `ExactSet.fromSortedUnique: keys not strictly increasing safe integers at position ${i}`);
      }
      previous = key;
    }
    return new ExactSet(keys);
  }

  /**
   * Takes ownership of `keys`: sorts and dedups it in place (the caller must not use it afterwards),
   * then keeps it, or a trimmed copy when duplicates left much unused room.
   * Throws CALLGATE_ERR_CONFIG when a key is not a non-negative safe integer (NaN, fraction, ...).
   */
  static build(keys: Float64Array): { set: ExactSet; duplicates: number } {
    // TypedArray sort without a comparator is numeric (and runs natively).
    keys.sort();
    const n = keys.length;
    let unique = 0;
    let previous = -1;
    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      if (key === previous) continue;
      // Sorted, so checking here catches every bad key; NaN sorts last and fails isSafeInteger.
      if (!Number.isSafeInteger(key) || key < 0) {
        throw new CallgateError(ErrorCode.CONFIG, `ExactSet.build: expected NumberKeys, got ${key} at sorted position ${i}`);
      }
      keys[unique++] = key;
      previous = key;
    }
    const duplicates = n - unique;
    let kept = keys.subarray(0, unique);
    if (keys.buffer.byteLength - kept.byteLength > kept.byteLength * MAX_SLACK_FRACTION) kept = kept.slice();
    return { set: new ExactSet(kept), duplicates };
  }

  /** Number of distinct keys. */
  get size(): number {
    return this.#keys.length;
  }

  /** Memory retained (the whole underlying buffer, slack included). */
  get byteLength(): number {
    return this.#keys.buffer.byteLength;
  }

  has(key: NumberKey): boolean {
    const keys = this.#keys;
    let lo = 0;
    let hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const value = keys[mid]!;
      if (value < key) lo = mid + 1;
      else if (value > key) hi = mid - 1;
      else return true;
    }
    return false;
  }

  /** The sorted unique keys, without copying (e.g. to write the same members to Redis). */
  keys(): SortedKeys {
    return this.#keys;
  }
}
