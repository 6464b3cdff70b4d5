/**
 * Writes that matter (an opt-out, a revocation, a refusal, a counted attempt) are acknowledged only once
 * `replicas` replicas have them: Redis replication is asynchronous, and a fail-over promotes a replica that may
 * lack the master's last writes.
 *
 * Why a marker write: WAIT waits for the writes made ON ITS OWN CONNECTION (the client's last write offset,
 * `woff`; the Redis documentation says "all the previous write commands sent in the context of the current
 * connection"). It blocks that connection, so it cannot run on fast or bulk, where the writes are made, without
 * stalling confirms. So the dedicated 'durability' connection sends, in one pipeline, INCR {p}wait (a tiny write of
 * its own) and WAIT: the replication stream is one ordered stream, so the marker's offset is past every write
 * whose reply was received before the marker was sent, and WAIT covering the marker covers them all.
 * (Redis ≤ 7 happens to set `woff` on any command, even a read; that is not promised, so it is not relied on.)
 *
 * Coalesced: one round (marker + WAIT) at a time, and none sent while a hung socket leaves the last unanswered; every caller arriving while it runs joins the next round, which
 * starts when it ends. A caller therefore waits at most two rounds, each bounded by `timeoutMs`.
 *
 * A round that spans a drop of any long-lived connection (connection.drops) reads "not replicated": the write may
 * have reached a master that the fail-over replaced, and a WAIT on the new master says nothing about it.
 */
import type { Client, Connection } from './connection.js';
import { waitKey } from './keys.js';

export interface DurabilityOptions {
  /** Replicas that must hold a write before it is acknowledged; 0 = do not wait. @default 0 */
  readonly waitReplicas?: number | undefined;
  /** WAIT's timeout (ms, at least 1: WAIT 0 would block forever). @default 50 */
  readonly waitTimeoutMs?: number | undefined;
}

/** Taken before a write (mark()), handed to replicated() after its reply. */
export interface WriteMark {
  readonly drops: number;
}

interface Round {
  readonly promise: Promise<boolean>;
  resolve(replicated: boolean): void;
}

export class Durability {
  readonly #connection: Connection;
  readonly #client: Client | null;
  readonly #key: string;
  readonly replicas: number;
  readonly timeoutMs: number;
  #next: Round | null = null;
  #busy = false;
  #rounds = 0;
  /** A round's pipeline that a hung socket has not answered yet: no other is queued behind it (bounded memory). */
  #unanswered = false;

  constructor(connection: Connection, prefix: string, options: DurabilityOptions) {
    this.#connection = connection;
    this.#client = connection.durability;
    this.#key = waitKey(prefix);
    this.replicas = options.waitReplicas ?? 0;
    this.timeoutMs = Math.max(1, options.waitTimeoutMs ?? 50);
  }

  /** True when writes wait for replicas. */
  get enabled(): boolean {
    return this.replicas > 0 && this.#client !== null;
  }

  /** WAIT rounds sent so far (each covers every write acknowledged before it; for tests and the bench). */
  get rounds(): number {
    return this.#rounds;
  }

  mark(): WriteMark {
    return { drops: this.#connection.drops };
  }

  /**
   * Resolves true once `replicas` replicas hold every write whose reply arrived before this call (always true when
   * waiting is off); false when WAIT timed out, the durability connection is down, or a connection dropped since
   * `mark` (the write may be on a replaced master). Never rejects.
   */
  replicated(mark: WriteMark): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(true);
    let round = this.#next;
    if (round === null) {
      let resolve: (v: boolean) => void = () => undefined;
      const promise = new Promise<boolean>((r) => (resolve = r));
      round = { promise, resolve };
      this.#next = round;
    }
    if (!this.#busy) void this.#run();
    return round.promise.then((ok) => ok && this.#connection.drops === mark.drops);
  }

  async #run(): Promise<void> {
    this.#busy = true;
    try {
      for (let round = this.#next; round !== null; round = this.#next) {
        this.#next = null;
        round.resolve(await this.#waitOnce());
      }
    } finally {
      this.#busy = false;
    }
  }

  async #waitOnce(): Promise<boolean> {
    const client = this.#client;
    if (client === null || client.status !== 'ready' || this.#connection.closed) return false;
    // The last round's commands are still unanswered (a hung or paused server): queueing more behind them would
    // grow the client's queue for as long as the socket hangs. Not replicated, until it answers or drops.
    if (this.#unanswered) return false;
    this.#rounds++;
    const before = this.#connection.drops;
    let timer: NodeJS.Timeout | undefined;
    // A hung socket never answers: the round gives up a second after WAIT's own timeout (the next round retries).
    const guard = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.timeoutMs + 1000);
    });
    try {
      const exec = client.pipeline().incr(this.#key).wait(this.replicas, this.timeoutMs).exec();
      const replies = await Promise.race([exec, guard]);
      if (replies === null) {
        // No round is sent while this one is out, so one flag is enough; it clears when the server answers or the
        // connection drops.
        this.#unanswered = true;
        const answered = (): void => {
          this.#unanswered = false;
        };
        void exec.then(answered, answered);
        return false;
      }
      const [, waited] = replies[1] ?? [];
      return replies.every(([err]) => err === null) && typeof waited === 'number' && waited >= this.replicas && this.#connection.drops === before;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
