/**
 * The Redis store (Redis mode): the parts of redis/ over one set of connections. `RedisStore.connect(options)`
 * validates the options, connects, learns the current risks, and exposes each part as a readonly field so that
 * every consumer receives only the part it uses; close() ends them all. Exact list members are shared by a fleet
 * of sidecars, versioned by generation; every fleet timestamp is Redis's clock (TIME inside the scripts).
 *
 *   connection   fast / bulk / dedicated connections (the only ioredis import), TIME, server facts
 *   risks        eviction and format watch: while a risk holds, checks needing Redis block
 *   confirmer    confirm() and decide(): the only Redis calls on the hot path
 *   history      refusals and attempts of consumers (décret 2022-1313)
 *   generations  write, switch, read, delete and collect a list's generations
 *   intraday     intraday additions, removals and revocations
 *   changes      the changes stream: lastChangeId, followChanges
 *   fleet        heartbeats, live sidecars, switch notices
 *   locks        fleet locks
 *   epoch        the fleet epoch (a wipe detector)
 *   stats        fleet check counts
 *   durability   WAIT for replicas after the writes that matter (opt-outs, revocations, refusals, attempts)
 *
 * observeRuleWrites is the one method of its own: it tells two parts (confirmer, history) of one observer.
 */
import { ChangeFollower } from './change-follower.js';
import { Confirmer, MAX_CONFIRM_TIMEOUT_MS, type ConfirmOptions } from './confirm.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { ConsumerHistory, type RuleWriteObserver } from './consumer-history.js';
import { Durability, type DurabilityOptions } from './durability.js';
import { FleetEpoch } from './epoch.js';
import { nonNegativeInteger, positive } from './errors.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { Fleet } from './fleet.js';
import { FleetLocks } from './fleet-lock.js';
import { Generations } from './generations.js';
import { Intraday } from './intraday.js';
import { DEFAULT_PREFIX, assertPrefix } from './keys.js';
import { RiskWatch } from './risk.js';
import { loadScripts } from './scripts.js';
import { StatsStore } from './stats-store.js';

/** The connection's options (redis/connection.ts), the confirmer's (redis/confirm.ts), and the store's own. */
export interface RedisStoreOptions extends ConnectionOptions, ConfirmOptions, DurabilityOptions {
  /** Prefix of every key. @default 'callgate:' */
  readonly prefix?: string | undefined;
  /**
   * Accept an allkeys-* maxmemory-policy. Redis may then evict members, which confirm() reads as
   * 'unconfirmed' only if the marker went too; an evicted bucket with its marker kept reads 'absent'.
   * @default false
   */
  readonly allowEviction?: boolean | undefined;
  /** Approximate length (MAXLEN ~) the changes stream is trimmed to. @default 1000000 */
  readonly changesMaxLen?: number | undefined;
  /**
   * How often maxmemory-policy, INFO evicted_keys and the fleet's format key are re-read (also at every
   * reconnection). @default 1000
   */
  readonly watchMs?: number | undefined;
}

export class RedisStore {
  readonly prefix: string;
  readonly connection: Connection;
  readonly risks: RiskWatch;
  readonly confirmer: Confirmer;
  readonly history: ConsumerHistory;
  readonly generations: Generations;
  readonly intraday: Intraday;
  readonly changes: ChangeFollower;
  readonly fleet: Fleet;
  readonly locks: FleetLocks;
  readonly epoch: FleetEpoch;
  readonly stats: StatsStore;
  readonly durability: Durability;

  private constructor(connection: Connection, prefix: string, options: RedisStoreOptions, scripts: ReturnType<typeof loadScripts>) {
    this.connection = connection;
    this.prefix = prefix;
    this.durability = new Durability(connection, prefix, options);
    this.risks = new RiskWatch(connection, prefix, { allowEviction: options.allowEviction, watchMs: options.watchMs, onError: options.onError });
    this.confirmer = new Confirmer(connection, prefix, this.risks, scripts, options, this.durability);
    this.history = new ConsumerHistory(connection, prefix, this.durability);
    this.fleet = new Fleet(connection, prefix, options.onError);
    this.epoch = new FleetEpoch(connection, prefix);
    this.generations = new Generations(connection, prefix, this.risks, this.epoch, this.fleet);
    this.intraday = new Intraday(connection, prefix, options.changesMaxLen ?? 1_000_000);
    this.changes = new ChangeFollower(connection, prefix, this.risks);
    this.locks = new FleetLocks(connection, prefix);
    this.stats = new StatsStore(connection, prefix);
  }

  /** Connects both connections and waits until they are ready (rejects with CALLGATE_ERR_REDIS after connectTimeoutMs). */
  static async connect(options: RedisStoreOptions = {}): Promise<RedisStore> {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    assertPrefix(prefix);
    positive('confirmTimeoutMs', options.confirmTimeoutMs ?? 50);
    // Past what a timer holds, Node fires it at once: the shared deadline timer would spin and never time out.
    if ((options.confirmTimeoutMs ?? 50) > MAX_CONFIRM_TIMEOUT_MS) throw new CallgateError(ErrorCode.CONFIG, `confirmTimeoutMs must be at most ${MAX_CONFIRM_TIMEOUT_MS}, got ${String(options.confirmTimeoutMs)}`);
    positive('connectTimeoutMs', options.connectTimeoutMs ?? 10_000);
    positive('reconnectMaxDelayMs', options.reconnectMaxDelayMs ?? 2000);
    positive('maxConfirmsInFlight', options.maxConfirmsInFlight ?? 1000);
    positive('hungSocketMs', options.hungSocketMs ?? 5000);
    positive('changesMaxLen', options.changesMaxLen ?? 1_000_000);
    positive('watchMs', options.watchMs ?? 1000);
    nonNegativeInteger('waitReplicas', options.waitReplicas ?? 0);
    positive('waitTimeoutMs', options.waitTimeoutMs ?? 50);
    const scripts = loadScripts();
    const store = new RedisStore(new Connection({ ...options, durability: (options.waitReplicas ?? 0) > 0 }, scripts), prefix, options, scripts);
    try {
      await store.connection.ready();
    } catch (err) {
      await store.close();
      throw err;
    }
    // Risks are known before the first check is answered.
    await store.risks.watchNow();
    return store;
  }

  /**
   * Closes every connection (follow loops stopped, subscriber closed); held locks are released (best effort,
   * within 1 s: a stopping sidecar should not make the fleet wait for their expiry); pending commands are
   * abandoned (confirms read 'unconfirmed').
   */
  async close(): Promise<void> {
    if (!this.connection.beginClose()) return;
    this.risks.stop();
    await this.locks.releaseAll(1000);
    this.fleet.clearHandlers();
    this.risks.clearListeners();
    await Promise.all([this.changes.close(), this.fleet.close(), this.connection.close()]);
  }


  /** Who is told of refusals and counted attempts (one observer; null: nobody). */
  observeRuleWrites(observer: RuleWriteObserver | null): void {
    this.confirmer.observeAttempts(observer);
    this.history.observeRefusals(observer);
  }
}
