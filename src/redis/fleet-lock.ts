/**
 * Fleet locks: `{p}lock:NAME` = a random token with a TTL (SET NX PX), renewed and released only by the token's
 * holder (lua/renew.lua, lua/release.lua). A lock saves duplicate work (one nightly refresh for the fleet);
 * safety never depends on it: markers, the atomic switch and garbage collection's claims hold even with two holders.
 */
import { randomBytes } from 'node:crypto';
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { Client, Connection } from './connection.js';
import { positiveInteger, redisError } from './errors.js';
import { assertLockName, lockKey } from './keys.js';

/** A held fleet lock. Only the holder's random token can renew or release it. */
export interface Lock {
  readonly name: string;
  readonly token: string;
  readonly ttlMs: number;
  /** Extends the lock to ttlMs from now if this token still holds it; false when it was lost. Throws on Redis errors. */
  renew(): Promise<boolean>;
  /** Deletes the lock if this token still holds it (never another holder's), and stops keepAlive. */
  release(): Promise<void>;
  /**
   * Renews every ttlMs/3 until release(). The returned signal aborts, with a CallgateError CALLGATE_ERR_LOCK_LOST
   * as reason, when a renewal finds the lock gone or when no renewal succeeded before the lock may have
   * expired; onLost is then called once. Calling it again returns the same signal.
   */
  keepAlive(onLost?: (err: CallgateError) => void): AbortSignal;
}

export class FleetLocks {
  readonly #fast: Client;
  readonly #bulk: Client;
  readonly #prefix: string;
  readonly #held = new Set<FleetLock>();

  constructor(connection: Connection, prefix: string) {
    this.#fast = connection.fast;
    this.#bulk = connection.bulk;
    this.#prefix = prefix;
  }

  /**
   * Takes the fleet lock `name` for ttlMs (SET NX PX with a random token), or null when another holds it.
   * Runs on the confirm connection, as renewals do: never stuck behind bulk writes.
   */
  async acquireLock(name: string, ttlMs: number): Promise<Lock | null> {
    assertLockName(name);
    positiveInteger('ttlMs', ttlMs);
    const token = randomBytes(16).toString('hex');
    const key = lockKey(this.#prefix, name);
    const sentAt = Date.now();
    let reply: string | null;
    try {
      reply = await this.#fast.set(key, token, 'PX', ttlMs, 'NX');
    } catch (err) {
      throw redisError(`acquiring lock ${name}`, err);
    }
    if (reply !== 'OK') return null;
    const lock = new FleetLock(this.#fast, key, name, token, ttlMs, sentAt, (l) => this.#held.delete(l));
    this.#held.add(lock);
    return lock;
  }

  /** Milliseconds until the fleet lock `name` expires; null when nobody holds it (or it has no expiry). */
  async lockTtlMs(name: string): Promise<number | null> {
    assertLockName(name);
    let ttl: number;
    try {
      ttl = await this.#bulk.pttl(lockKey(this.#prefix, name));
    } catch (err) {
      throw redisError(`reading the expiry of lock ${name}`, err);
    }
    return ttl >= 0 ? ttl : null;
  }

  /**
   * Releases every lock still held (best effort, within withinMs: a stopping sidecar should not make the fleet
   * wait for their expiry).
   */
  async releaseAll(withinMs: number): Promise<void> {
    const releasing = Promise.all([...this.#held].map((lock) => lock.release().catch(() => undefined)));
    await Promise.race([releasing, new Promise<void>((resolve) => setTimeout(resolve, withinMs).unref())]);
  }
}

class FleetLock implements Lock {
  readonly name: string;
  readonly token: string;
  readonly ttlMs: number;
  readonly #client: Client;
  readonly #key: string;
  readonly #forget: (lock: FleetLock) => void;
  /** When the last successful SET/renewal was SENT: Redis's expiry is at least this + ttlMs. */
  #heldSince: number;
  #controller: AbortController | null = null;
  #onLost: ((err: CallgateError) => void) | undefined;
  #tick: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #renewing = false;
  #stopped = false;

  constructor(client: Client, key: string, name: string, token: string, ttlMs: number, heldSince: number, forget: (lock: FleetLock) => void) {
    this.#client = client;
    this.#key = key;
    this.name = name;
    this.token = token;
    this.ttlMs = ttlMs;
    this.#heldSince = heldSince;
    this.#forget = forget;
  }

  async renew(): Promise<boolean> {
    const sentAt = Date.now();
    let reply: unknown;
    try {
      reply = await this.#client.cgRenew(this.#key, this.token, this.ttlMs);
    } catch (err) {
      throw redisError(`renewing lock ${this.name}`, err);
    }
    if (reply !== 1) return false;
    this.#heldSince = Math.max(this.#heldSince, sentAt);
    this.#armDeadline();
    return true;
  }

  async release(): Promise<void> {
    this.stop();
    try {
      await this.#client.cgRelease(this.#key, this.token);
    } catch (err) {
      throw redisError(`releasing lock ${this.name}`, err);
    }
  }

  keepAlive(onLost?: (err: CallgateError) => void): AbortSignal {
    if (this.#controller !== null) return this.#controller.signal;
    this.#controller = new AbortController();
    this.#onLost = onLost;
    if (this.#stopped) return this.#controller.signal;
    const every = Math.max(1, Math.floor(this.ttlMs / 3));
    const tick = (): void => {
      if (this.#stopped || this.#renewing) return;
      this.#renewing = true;
      this.renew().then(
        (held) => {
          this.#renewing = false;
          if (!held) this.#lose(`lock ${this.name} was lost: another holder or expiry`);
        },
        () => {
          // Retried at the next tick; the deadline timer declares the loss when renewals fail too long.
          this.#renewing = false;
        },
      );
    };
    this.#tick = setInterval(tick, every);
    this.#tick.unref();
    this.#armDeadline();
    return this.#controller.signal;
  }

  /** Stops keep-alive timers without touching Redis. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#tick);
    clearTimeout(this.#deadline);
    this.#forget(this);
  }

  #armDeadline(): void {
    if (this.#controller === null || this.#stopped) return;
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(
      () => this.#lose(`lock ${this.name} not renewed within its ${this.ttlMs} ms TTL: it may have expired`),
      Math.max(0, this.#heldSince + this.ttlMs - Date.now()),
    );
    this.#deadline.unref();
  }

  #lose(message: string): void {
    if (this.#stopped) return;
    this.stop();
    const err = new CallgateError(ErrorCode.LOCK_LOST, message);
    this.#controller?.abort(err);
    this.#onLost?.(err);
  }
}
