/**
 * Numbers added to a list during the day (opt-outs recorded by agents), on top of its current
 * generation. One instance per list, kept across generations and mutated in place by the change
 * follower, so an addition is effective on the very next check without rebuilding any filter.
 * A Bloom filter cannot forget, so removals never touch filters: they only leave this set, and the
 * exact confirmation (generation members + these additions) decides.
 */
import type { NumberKey } from './number-key.js';

export class IntradayAdditions {
  /** key → when it was added (ms since epoch). */
  readonly #added = new Map<NumberKey, number>();

  has(key: NumberKey): boolean {
    return this.#added.has(key);
  }

  /**
   * Keeps the latest time of a number added twice: an opt-out recorded again after a new file was
   * exported cannot be in that file, so clearBefore must not drop it (Redis's ZADD keeps the latest too).
   */
  add(key: NumberKey, atMs: number): void {
    const previous = this.#added.get(key);
    if (previous === undefined || atMs > previous) this.#added.set(key, atMs);
  }

  remove(key: NumberKey): boolean {
    return this.#added.delete(key);
  }

  /** Applies one recorded change (an opt-out added, or withdrawn) to every key it names. */
  apply(op: 'add' | 'remove', keys: readonly NumberKey[], atMs: number): void {
    for (const key of keys) {
      if (op === 'add') this.add(key, atMs);
      else this.remove(key);
    }
  }

  /**
   * Drops additions made before a new file generation's load started: the new file supersedes them.
   * Additions made while it loaded are kept (the file cannot contain them yet).
   */
  clearBefore(ms: number): number {
    let n = 0;
    for (const [key, at] of this.#added) {
      if (at < ms) {
        this.#added.delete(key);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.#added.size;
  }

  entries(): IterableIterator<[NumberKey, number]> {
    return this.#added.entries();
  }
}
