/**
 * Numbers added to a list during the day (opt-outs recorded by agents), on top of its current
 * generation. One instance per list, kept across generations and mutated in place by the change
 * follower, so an addition is effective on the very next check without rebuilding any filter.
 * A Bloom filter cannot forget, so removals never touch filters: they only leave this set, and the
 * exact confirmation (generation members + these additions) decides.
 *
 * On an allow-list (`revocable`) a removal is also a revocation: a consent withdrawn or a contract
 * ended must stop allowing at once even though the file still lists the number. Revocations outlive
 * generations (a newer file may still carry the old consent); an addition, or a consent the file
 * dates after the revocation (rules/consent-terms.ts), lifts one.
 */
import type { NumberKey } from '../numbers/number-key.js';

export class IntradayAdditions {
  /** key → when it was added (ms since epoch). */
  readonly #added = new Map<NumberKey, number>();
  /** Allow-lists: key → when it was revoked (ms since epoch). */
  readonly #revoked = new Map<NumberKey, number>();
  readonly revocable: boolean;

  constructor(revocable = false) {
    this.revocable = revocable;
  }

  has(key: NumberKey): boolean {
    return this.#added.has(key);
  }

  /** When the number was added during the day (ms since epoch), or null (`callgate why`). */
  addedAt(key: NumberKey): number | null {
    return this.#added.get(key) ?? null;
  }

  /**
   * Keeps the latest time of a number added twice: an opt-out recorded again after a new file was
   * exported cannot be in that file, so clearBefore must not drop it (Redis's ZADD keeps the latest too).
   */
  add(key: NumberKey, atMs: number): void {
    const previous = this.#added.get(key);
    if (previous === undefined || atMs > previous) this.#added.set(key, atMs);
    // A grant lifts a revocation made before it, never a later one (copies merged after a Redis wipe).
    if (this.revocable && atMs >= (this.#revoked.get(key) ?? atMs)) this.#revoked.delete(key);
  }

  /** Records a revocation known elsewhere (another copy), keeping the latest time; the number's addition goes. */
  revoke(key: NumberKey, atMs: number): void {
    if (!this.revocable) return;
    const granted = this.#added.get(key);
    if (granted !== undefined && granted > atMs) return; // lifted by a later grant
    const previous = this.#revoked.get(key);
    if (previous === undefined || atMs > previous) this.#revoked.set(key, atMs);
    this.#added.delete(key);
  }

  remove(key: NumberKey, atMs: number = Date.now()): boolean {
    if (this.revocable) this.#revoked.set(key, atMs);
    return this.#added.delete(key);
  }

  /** Drops an addition without revoking anything (re-seeding from Redis, which holds the truth). */
  forget(key: NumberKey): boolean {
    return this.#added.delete(key);
  }

  /** When the number was revoked (allow-lists), or null. */
  revokedAt(key: NumberKey): number | null {
    return this.#revoked.get(key) ?? null;
  }

  get revokedCount(): number {
    return this.#revoked.size;
  }

  /** Applies one recorded change (an opt-out added, or withdrawn) to every key it names. */
  apply(op: 'add' | 'remove', keys: readonly NumberKey[], atMs: number): void {
    for (const key of keys) {
      if (op === 'add') this.add(key, atMs);
      else this.remove(key, atMs);
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

  /** Allow-lists: key → when it was revoked. */
  revocations(): IterableIterator<[NumberKey, number]> {
    return this.#revoked.entries();
  }
}
