/**
 * The eviction and format watch: whether Redis's answers can be trusted right now. While a risk holds,
 * confirm() answers 'unconfirmed' and decide() answered false (redis/confirm.ts reads `active` on every call).
 * Re-read every watchMs and at every reconnection (a fail-over may reach a server configured differently): from
 * a reconnection until that re-read passes, answers are not trusted either (the server may be a replica, or evict).
 * The same reads tell the role (callgate never reads from nor writes to a replica: it blocks while connected to
 * one), whether anything protects the data (AOF or a replica: a warning only), and when the server changed (INFO
 * run_id: a fail-over or a restart), for the redis_failover alert and metric.
 *
 * Only 'noeviction' is safe: 'volatile-*' is not, since refusals, attempt counts, heartbeats and locks carry
 * TTLs, and losing a refusal or an attempt history allows a call the rules forbid.
 */
import { CallgateError, ErrorCode, isCallgateError } from '../core/errors.js';
import type { Connection, ServerStats } from './connection.js';
import { asError, redisError } from './errors.js';
import { evictionsAckKey, formatKey } from './keys.js';
import { FORMAT_VERSION, decodeFormat } from './codecs.js';

/**
 * Why Redis's answers cannot be trusted right now; while either is set, confirm() answers 'unconfirmed' and
 * decide() answered false, whatever Redis says.
 */
export interface RedisRisk {
  /**
   * Keys may be missing: evicted_keys above the count an operator accepted (acceptEvictions()), until accepted;
   * or a maxmemory-policy that can evict (unless allowEviction), until it is noeviction again.
   */
  readonly eviction: string | null;
  /** A newer format than this build reads: the fleet's format key (until lowered), a marker or a stream entry (until restart). */
  readonly format: string | null;
  /** Not connected to a master (a replica, e.g. a demoted master), or reconnected and not yet checked; until a check passes. */
  readonly role: string | null;
}

/** What the watch knows of the server, beyond risks: nothing here blocks a check. */
export interface ServerFacts {
  /** INFO run_id of the server last read; '' before the first read. */
  readonly runId: string;
  /** Times the run_id changed since start (a fail-over or a restart). */
  readonly changes: number;
  /** Epoch ms of the last change; null when none. */
  readonly changedAt: number | null;
  /** Why a lost machine or restart would lose recent writes (neither AOF nor a replica); null when protected. */
  readonly persistence: string | null;
}

export interface RiskOptions {
  /**
   * Accept an allkeys-* maxmemory-policy. Redis may then evict members, which confirm() reads as
   * 'unconfirmed' only if the marker went too; an evicted bucket with its marker kept reads 'absent'.
   * @default false
   */
  readonly allowEviction?: boolean | undefined;
  /** How often maxmemory-policy, INFO evicted_keys and the fleet's format key are re-read. @default 1000 */
  readonly watchMs?: number | undefined;
  /** Watch errors, for logs. @default undefined */
  readonly onError?: ((err: Error) => void) | undefined;
}

export class RiskWatch {
  readonly #connection: Connection;
  readonly #prefix: string;
  readonly #allowEviction: boolean;
  readonly #onError: ((err: Error) => void) | undefined;
  readonly #listeners = new Set<(risk: RedisRisk) => void>();
  readonly #serverListeners = new Set<(facts: ServerFacts) => void>();
  #server: ServerFacts = { runId: '', changes: 0, changedAt: null, persistence: null };
  #evictionRisk: string | null = null;
  /** Not a master, or not checked since the last reconnection. */
  #roleRisk: string | null = null;
  /** The fleet's format key is newer than ours (re-read at each watch). */
  #fleetFormatRisk: string | null = null;
  /** A marker or stream entry of a newer format was met: kept until restart (an upgrade). */
  #seenFormatRisk: string | null = null;
  /** Non-null while any risk holds. */
  #risk: RedisRisk | null = null;
  #watching: Promise<void> | null = null;
  #watchAgain = false;
  #timer: NodeJS.Timeout | undefined;

  /** Starts watching at once (timer and reconnections); the caller awaits watchNow() before the first check. */
  constructor(connection: Connection, prefix: string, options: RiskOptions) {
    this.#connection = connection;
    this.#prefix = prefix;
    this.#allowEviction = options.allowEviction ?? false;
    this.#onError = options.onError;
    connection.onReady(() => {
      // Until the re-read passes, this server may be a replica or evict: fail closed at once (synchronously,
      // before any command can reach it).
      this.#setRisk(this.#evictionRisk, this.#fleetFormatRisk, this.#seenFormatRisk, UNCHECKED);
      void this.#watch();
    });
    this.#timer = setInterval(() => void this.#watch(), options.watchMs ?? 1000);
    this.#timer.unref();
  }

  /** Non-null while any risk holds: read on every confirm() and decide(). */
  get active(): RedisRisk | null {
    return this.#risk;
  }

  /** What currently makes Redis's answers untrustworthy (see RedisRisk); both null when nothing does. */
  risk(): RedisRisk {
    return this.#risk ?? { eviction: null, format: null, role: null };
  }

  /** The server last read: identity, changes, persistence. */
  server(): ServerFacts {
    return this.#server;
  }

  /** Calls listener whenever server() changes (run_id or persistence); returns the function that stops it. */
  watchServer(listener: (facts: ServerFacts) => void): () => void {
    this.#serverListeners.add(listener);
    return () => this.#serverListeners.delete(listener);
  }

  /** Calls listener whenever risk() changes (raised or cleared); returns the function that stops it. */
  watchRisk(listener: (risk: RedisRisk) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Re-reads the eviction policy, evicted_keys and the fleet format now (single flight); never throws. */
  async watchNow(): Promise<void> {
    await this.#watch();
  }

  /** A marker or stream entry of a newer format: fail closed until this sidecar is upgraded (restarted). */
  noteFormat(err: unknown): void {
    if (!isCallgateError(err, ErrorCode.FORMAT) || this.#seenFormatRisk !== null) return;
    this.#setRisk(this.#evictionRisk, this.#fleetFormatRisk, err.message, this.#roleRisk);
  }

  /**
   * The operator's answer to an eviction: accepts the evictions counted so far (fleet-wide, in Redis), so that
   * checks stop answering 'unconfirmed' for them. Run it once the damage is repaired (lists reloaded; refusals
   * and attempts evicted are lost). A policy that can evict is not accepted this way: set noeviction.
   * Throws CALLGATE_ERR_REDIS.
   */
  async acceptEvictions(): Promise<{ runId: string; evicted: number }> {
    let stats: { runId: string; evicted: number | null };
    try {
      stats = await this.#connection.serverStats();
      if (stats.evicted === null || stats.runId === '') throw new Error('INFO does not report run_id and evicted_keys');
      await this.#connection.bulk.set(evictionsAckKey(this.#prefix), `${stats.runId}:${stats.evicted}`);
    } catch (err) {
      throw redisError('accepting evictions', err);
    }
    await this.#watch();
    return { runId: stats.runId, evicted: stats.evicted };
  }

  /**
   * Start-up refusal of a policy that can evict callgate's keys: only 'noeviction' is safe. Throws
   * CALLGATE_ERR_REDIS_EVICTION unless allowEviction is set; even then, checks that depend on Redis answer
   * 'unconfirmed' once an eviction is counted (risk()). The policy is re-read at every reconnection and every watchMs.
   */
  async checkEvictionPolicy(): Promise<void> {
    const policy = await this.#connection.evictionPolicy();
    if (policy === 'noeviction') return;
    if (this.#allowEviction) return;
    throw new CallgateError(
      ErrorCode.REDIS_EVICTION,
      `Redis maxmemory-policy is ${JSON.stringify(policy)}: Redis may evict list members, refusals or attempt counts, and callgate would then allow calls it must block. ` +
        `Set maxmemory-policy to noeviction, or accept the risk with the allowEviction option (checks that need Redis then block once an eviction is seen).`,
    );
  }

  /** Stops the timer (first step of closing; a watch under way ends as the connection is closed). */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** Forgets every listener. */
  clearListeners(): void {
    this.#listeners.clear();
    this.#serverListeners.clear();
  }

  #watch(): Promise<void> {
    if (this.#watching !== null) {
      this.#watchAgain = true;
      return this.#watching;
    }
    const run = (async () => {
      do {
        this.#watchAgain = false;
        if (this.#connection.closed) return;
        try {
          await this.#watchOnce();
        } catch (err) {
          // Unreachable Redis: confirms already read 'unconfirmed'; the next reconnection or tick re-reads.
          this.#onError?.(asError(err));
        }
      } while (this.#watchAgain);
    })().finally(() => {
      this.#watching = null;
    });
    this.#watching = run;
    return run;
  }

  async #watchOnce(): Promise<void> {
    const stats = await this.#connection.serverStats();
    const roles = await this.#connection.roles();
    const replica = roles.find((r) => r !== 'master') ?? (stats.role !== '' && stats.role !== 'master' ? stats.role : undefined);
    const role = replica === undefined ? null : `connected to a Redis ${replica === 'slave' ? 'replica' : replica}, not a master: callgate neither trusts its answers nor writes to it`;
    this.#noteServer(stats);
    // The format script writes: under maxmemory it fails (OOM) while INFO still answers, and the eviction risk
    // must not wait for it. Without its answer, nothing is accepted and the fleet's format is as last read.
    let format: string | undefined;
    let ack = '';
    let fleetFormat = this.#fleetFormatRisk;
    try {
      const reply: unknown = await this.#connection.bulk.cgFormat(formatKey(this.#prefix), evictionsAckKey(this.#prefix), FORMAT_VERSION);
      [format, ack = ''] = Array.isArray(reply) ? (reply as unknown[]).map((v) => (typeof v === 'string' ? v : String(v))) : [];
      fleetFormat = null;
      decodeFormat(format ?? 'unreadable', 'the fleet (its format key)');
    } catch (err) {
      if (isCallgateError(err, ErrorCode.FORMAT)) fleetFormat = err.message;
      else this.#onError?.(asError(err));
    }
    let eviction: string | null = null;
    if (stats.policy !== 'noeviction' && !this.#allowEviction) {
      eviction = `Redis maxmemory-policy is ${stats.policy}: it may evict callgate's keys (only noeviction is safe)`;
    }
    const accepted = acceptedEvictions(ack, stats.runId);
    if (stats.evicted === null) {
      eviction ??= 'Redis does not report evicted_keys (INFO stats): evictions cannot be ruled out';
    } else if (stats.evicted > accepted) {
      eviction = `Redis evicted ${stats.evicted} keys (server ${stats.runId.slice(0, 12)}; ${accepted} accepted): callgate's lists, refusals or attempts may be incomplete`;
    }
    // A reconnection during this read left UNCHECKED in place: the loop in #watch() reads again.
    this.#setRisk(eviction, fleetFormat, this.#seenFormatRisk, this.#watchAgain && this.#roleRisk === UNCHECKED ? UNCHECKED : role);
  }

  /** Server identity and persistence, from the same INFO. */
  #noteServer(stats: ServerStats): void {
    const before = this.#server;
    const persistence =
      stats.role === 'master' && stats.aof === false && stats.replicas === 0
        ? 'Redis has neither AOF persistence nor a replica: a restart or a lost machine loses the opt-outs, refusals and attempts written since its last snapshot'
        : null;
    const changed = before.runId !== '' && stats.runId !== '' && stats.runId !== before.runId;
    if (!changed && persistence === before.persistence && (before.runId !== '' || stats.runId === '')) return;
    this.#server = {
      runId: stats.runId || before.runId,
      changes: before.changes + (changed ? 1 : 0),
      changedAt: changed ? Date.now() : before.changedAt,
      persistence,
    };
    for (const listener of [...this.#serverListeners]) {
      try {
        listener(this.#server);
      } catch (err) {
        this.#onError?.(asError(err));
      }
    }
  }

  #setRisk(eviction: string | null, fleetFormat: string | null, seenFormat: string | null, role: string | null): void {
    const format = fleetFormat ?? seenFormat;
    this.#fleetFormatRisk = fleetFormat;
    this.#seenFormatRisk = seenFormat;
    const before = this.#risk;
    const changed = (before?.eviction ?? null) !== eviction || (before?.format ?? null) !== format || (before?.role ?? null) !== role;
    this.#evictionRisk = eviction;
    this.#roleRisk = role;
    this.#risk = eviction === null && format === null && role === null ? null : { eviction, format, role };
    if (!changed) return;
    const risk = this.risk();
    for (const listener of [...this.#listeners]) {
      try {
        listener(risk);
      } catch (err) {
        this.#onError?.(asError(err));
      }
    }
  }
}

/** The role risk from a reconnection until the server is checked. */
export const UNCHECKED = 'reconnected to Redis: its role and settings are being checked';

/** The evicted_keys count accepted for this server run ('run_id:count'); another run's acceptance counts 0. */
function acceptedEvictions(ack: string, runId: string): number {
  const at = ack.lastIndexOf(':');
  if (at <= 0 || ack.slice(0, at) !== runId) return 0;
  const n = Number(ack.slice(at + 1));
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
