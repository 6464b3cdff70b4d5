/**
 * Timeouts that all have the same length, on one timer: a request's deadline is always later than those of the
 * requests added before it, so the queue is in deadline order and only its head needs a timer. Replaces a
 * setTimeout + clearTimeout per Redis check (the confirm path's timers were measurable per check at a fixed rate,
 * issue 17). A timeout never fires early; it may fire up to one timer tick late, as a setTimeout may.
 */

/** One request's timeout: set `cancelled` once it settled otherwise (its entry is dropped when reached). */
export interface Deadline {
  cancelled: boolean;
}

interface Entry extends Deadline {
  readonly at: number;
  readonly expire: () => void;
}

export class Deadlines {
  readonly #ms: number;
  #queue: Entry[] = [];
  /** Index of the queue's head (entries before it are done); the array is compacted when it is passed half-way. */
  #head = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(ms: number) {
    this.#ms = ms;
  }

  /** Calls `expire` after the length unless the returned deadline is cancelled first. */
  add(expire: () => void): Deadline {
    const entry: Entry = { at: performance.now() + this.#ms, expire, cancelled: false };
    this.#queue.push(entry);
    if (this.#timer === null) this.#timer = setTimeout(() => this.#fire(), this.#ms);
    return entry;
  }

  #fire(): void {
    this.#timer = null;
    const now = performance.now();
    const q = this.#queue;
    while (this.#head < q.length) {
      const e = q[this.#head] as Entry;
      if (!e.cancelled && e.at > now) break;
      this.#head++;
      if (!e.cancelled) {
        e.cancelled = true;
        e.expire();
      }
    }
    if (this.#head === q.length) {
      this.#queue = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
    const next = this.#queue[this.#head] as Entry;
    this.#timer = setTimeout(() => this.#fire(), Math.max(1, Math.ceil(next.at - now)));
  }
}
