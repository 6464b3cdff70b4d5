/**
 * The client's requests waiting for a reply: keyed by id (a reply is matched to its request by the id it
 * echoes), kept in issue order, with a FIFO of those not yet sent. Every request of a client has the same
 * timeout, so deadlines rise with issue order: expiring is a walk from the oldest that stops at the first
 * live one, and one timer set for the oldest deadline serves them all (no timer per check). Pure: time is
 * passed in.
 */

export interface PendingEntry {
  /** When it answers gate_unavailable if no reply came (the client's clock, ms). */
  readonly deadline: number;
  /** The frame to send; null once sent. */
  frame: string | null;
}

export class PendingTable<T extends PendingEntry> {
  /** Insertion order is issue order (a Map iterates in insertion order). */
  readonly #byId = new Map<number, T>();
  /** Ids not yet sent, oldest first; an id whose entry is gone is skipped when met. */
  #queue: number[] = [];
  #queueHead = 0;
  #nextId = 1;
  /** Ids have wrapped past Number.MAX_SAFE_INTEGER: a fresh one must be checked against those still pending. */
  #wrapped = false;

  /** Requests in the table, sent or not. */
  get size(): number {
    return this.#byId.size;
  }

  /** Ids waiting in the send queue (some may have expired and are skipped when met). */
  get queuedIds(): number {
    return this.#queue.length - this.#queueHead;
  }

  /** A fresh id: a safe integer (the server refuses others), never one still pending. */
  nextId(): number {
    for (;;) {
      const id = this.#nextId;
      if (id >= Number.MAX_SAFE_INTEGER) {
        this.#nextId = 1;
        this.#wrapped = true;
      } else this.#nextId = id + 1;
      if (!this.#wrapped || !this.#byId.has(id)) return id;
    }
  }

  /** Adds a request; one with a frame is queued to be sent. */
  add(id: number, entry: T): void {
    this.#byId.set(id, entry);
    if (entry.frame !== null) this.#queue.push(id);
  }

  get(id: number): T | undefined {
    return this.#byId.get(id);
  }

  /** Removes and returns the request an id names (its reply came), or undefined (unknown, expired). */
  take(id: number): T | undefined {
    const entry = this.#byId.get(id);
    if (entry !== undefined) this.#byId.delete(id);
    return entry;
  }

  /** The oldest queued request still pending, removed from the queue (its frame is the caller's to send). */
  nextToSend(): { readonly id: number; readonly entry: T } | null {
    while (this.#queueHead < this.#queue.length) {
      const id = this.#queue[this.#queueHead++] as number;
      const entry = this.#byId.get(id);
      if (entry !== undefined && entry.frame !== null) {
        this.#compact();
        return { id, entry };
      }
    }
    if (this.#queue.length > 0) {
      this.#queue = [];
      this.#queueHead = 0;
    }
    return null;
  }

  /** Removes and returns every request whose deadline is at or before `now`, oldest first. */
  expire(now: number): T[] {
    const out: T[] = [];
    for (const [id, entry] of this.#byId) {
      if (entry.deadline > now) break;
      this.#byId.delete(id);
      out.push(entry);
    }
    this.#compact();
    return out;
  }

  /** The oldest pending deadline, or null when nothing is pending. */
  oldestDeadline(): number | null {
    for (const entry of this.#byId.values()) return entry.deadline;
    return null;
  }

  /** Removes and returns every request, oldest first (the connection was lost or the client closed). */
  drain(): T[] {
    const out = [...this.#byId.values()];
    this.#byId.clear();
    this.#queue = [];
    this.#queueHead = 0;
    return out;
  }

  /** Keeps the queue array from growing without bound: consumed and stale ids are dropped. */
  #compact(): void {
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    // Stale ids (expired while queued) beyond twice the live table: filter them out.
    if (this.#queue.length - this.#queueHead > 2 * this.#byId.size + 1024) {
      this.#queue = this.#queue.slice(this.#queueHead).filter((id) => this.#byId.get(id)?.frame != null);
      this.#queueHead = 0;
    }
  }
}
