/**
 * The client's requests waiting for a reply, in a fixed slot table: an id's slot is `id & mask`, so a reply
 * is matched to its request by the id it echoes in O(1) with no Map and no object per request (the client's
 * hot path allocates as little as the raw socket's). When the next id's slot is still taken (a long-pending
 * request), the id counter moves on to the next free slot, so memory is bounded by the capacity — a power of
 * two ≥ 2 × `maxEntries`, reached by doubling only as the table fills — never by rate × timeout.
 *
 * The entries are also linked in issue order. Every request of a client has the same timeout, so deadlines
 * rise with issue order: expiring is a walk from the oldest that stops at the first live one, and one timer
 * set for the oldest deadline serves them all (no timer per check). Frames are sent in issue order too, so
 * the requests not yet sent are always the newest ones: a suffix of that order. Pure: time is passed in.
 */

const NONE = -1;
/** Slot indices and masks stay within int32 (`id & mask`, Int32Array links). */
const MAX_CAPACITY = 2 ** 30;
/** A table starts this small and doubles as it fills: a client that never has many pending stays small. */
const INITIAL_CAPACITY = 64;

/** The smallest power of two ≥ n, within [INITIAL_CAPACITY, MAX_CAPACITY]. */
function powerOfTwoAtLeast(n: number): number {
  let c = INITIAL_CAPACITY;
  while (c < n && c < MAX_CAPACITY) c *= 2;
  return c;
}

export class PendingTable<T> {
  /** Entries held at most (the client's maxPending, within MAX_CAPACITY / 2). */
  readonly #maxEntries: number;
  /** The capacity the table may grow to: a power of two ≥ 2 × maxEntries, so a free slot is never far. */
  readonly #maxCapacity: number;
  #mask!: number;
  /** The id in each slot; 0: free (ids start at 1). Float64: ids are safe integers, beyond int32. */
  #ids!: Float64Array;
  #deadlines!: Float64Array;
  /** The frame to send; null once sent (or free). */
  #frames!: (string | null)[];
  #values!: (T | undefined)[];
  /** Issue order: a doubly linked list through the slots, oldest at #head. */
  #next!: Int32Array;
  #prev!: Int32Array;
  #head = NONE;
  #tail = NONE;
  /** The oldest entry not yet sent; it and every newer entry are unsent. */
  #firstUnsent = NONE;
  #size = 0;
  #unsent = 0;
  #nextId: number;

  /** `firstId`: where ids start (a test starts near the wrap). */
  constructor(maxEntries: number, firstId = 1) {
    this.#nextId = firstId;
    this.#maxEntries = Math.min(maxEntries, MAX_CAPACITY / 2);
    this.#maxCapacity = powerOfTwoAtLeast(2 * this.#maxEntries);
    this.#allocate(Math.min(INITIAL_CAPACITY, this.#maxCapacity));
  }

  /** Requests in the table, sent or not. */
  get size(): number {
    return this.#size;
  }

  /** Requests added and not yet handed out by nextToSend. */
  get unsent(): number {
    return this.#unsent;
  }

  /** Slots allocated now (never above 2 × maxEntries rounded up to a power of two). */
  get capacity(): number {
    return this.#mask + 1;
  }

  /**
   * A fresh id whose slot is free — a safe integer (the server refuses others), never one still pending — or
   * 0 when the table holds maxEntries already. Pass it to add() before the next call.
   */
  nextId(): number {
    if (this.#size >= this.#maxEntries) return 0;
    // Keep at least half the slots free: the skip below then stays short.
    if (2 * (this.#size + 1) > this.#mask + 1 && this.#mask + 1 < this.#maxCapacity) this.#grow();
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id >= Number.MAX_SAFE_INTEGER ? 1 : id + 1;
      // A taken slot holds a long-pending request (or, after a wrap, possibly this very id): skip it.
      if (this.#ids[id & this.#mask] === 0) return id;
    }
  }

  /** Adds a request under an id from nextId(), newest in issue order, its frame queued to be sent. */
  add(id: number, value: T, deadline: number, frame: string): void {
    const slot = id & this.#mask;
    this.#ids[slot] = id;
    this.#deadlines[slot] = deadline;
    this.#frames[slot] = frame;
    this.#values[slot] = value;
    this.#link(slot);
    if (this.#firstUnsent === NONE) this.#firstUnsent = slot;
    this.#size++;
    this.#unsent++;
  }

  /** Removes and returns the request an id names (its reply came), or undefined (unknown, expired, not ours). */
  take(id: number): T | undefined {
    if (!Number.isSafeInteger(id) || id <= 0) return undefined;
    const slot = id & this.#mask;
    if (this.#ids[slot] !== id) return undefined;
    return this.#remove(slot);
  }

  /** The oldest unsent request's frame, now counted as sent (the caller's to send), or null. */
  nextToSend(): string | null {
    const slot = this.#firstUnsent;
    if (slot === NONE) return null;
    const frame = this.#frames[slot] ?? null;
    this.#frames[slot] = null;
    this.#firstUnsent = this.#next[slot] ?? NONE;
    this.#unsent--;
    return frame;
  }

  /** Removes and returns the oldest request if its deadline is at or before `now`, else undefined. */
  expireOldest(now: number): T | undefined {
    const slot = this.#head;
    if (slot === NONE || (this.#deadlines[slot] ?? 0) > now) return undefined;
    return this.#remove(slot);
  }

  /** Removes and returns the oldest request, whatever its deadline (the connection was lost, the client closed). */
  shift(): T | undefined {
    return this.#head === NONE ? undefined : this.#remove(this.#head);
  }

  /** The oldest pending deadline, or null when nothing is pending. */
  oldestDeadline(): number | null {
    return this.#head === NONE ? null : (this.#deadlines[this.#head] ?? null);
  }

  #link(slot: number): void {
    this.#prev[slot] = this.#tail;
    this.#next[slot] = NONE;
    if (this.#tail === NONE) this.#head = slot;
    else this.#next[this.#tail] = slot;
    this.#tail = slot;
  }

  #remove(slot: number): T | undefined {
    const value = this.#values[slot];
    const prev = this.#prev[slot] ?? NONE;
    const next = this.#next[slot] ?? NONE;
    if (prev === NONE) this.#head = next;
    else this.#next[prev] = next;
    if (next === NONE) this.#tail = prev;
    else this.#prev[next] = prev;
    if (this.#frames[slot] !== null) {
      // Unsent: the unsent ones are a suffix, so if it led them, the next (newer, also unsent) leads now.
      this.#unsent--;
      if (this.#firstUnsent === slot) this.#firstUnsent = next;
    }
    this.#ids[slot] = 0;
    this.#frames[slot] = null;
    this.#values[slot] = undefined;
    this.#size--;
    return value;
  }

  /** Empty slot arrays of this capacity (a power of two). */
  #allocate(capacity: number): void {
    this.#mask = capacity - 1;
    this.#ids = new Float64Array(capacity);
    this.#deadlines = new Float64Array(capacity);
    this.#frames = new Array<string | null>(capacity).fill(null);
    this.#values = new Array<T | undefined>(capacity).fill(undefined);
    this.#next = new Int32Array(capacity).fill(NONE);
    this.#prev = new Int32Array(capacity).fill(NONE);
  }

  /** Doubles the slots. Ids apart under the old mask stay apart under the new one (it keeps the old bits). */
  #grow(): void {
    const old = { ids: this.#ids, deadlines: this.#deadlines, frames: this.#frames, values: this.#values, next: this.#next, head: this.#head, firstUnsent: this.#firstUnsent };
    this.#allocate((this.#mask + 1) * 2);
    this.#head = NONE;
    this.#tail = NONE;
    this.#firstUnsent = NONE;
    for (let s = old.head; s !== NONE; s = old.next[s] ?? NONE) {
      const id = old.ids[s] ?? 0;
      const slot = id & this.#mask;
      this.#ids[slot] = id;
      this.#deadlines[slot] = old.deadlines[s] ?? 0;
      this.#frames[slot] = old.frames[s] ?? null;
      this.#values[slot] = old.values[s];
      this.#link(slot);
      if (s === old.firstUnsent) this.#firstUnsent = slot;
    }
  }
}
