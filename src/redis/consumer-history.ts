/**
 * What Redis remembers of each consumer for the calling rules (décret 2022-1313: at most 4 calls or attempts per
 * 30 days, none for 60 days after a refusal): the refusal key and the attempts set. decide() (redis/confirm.ts)
 * reads them and counts attempts on the hot path; this part records outcomes, reads attempts, and re-publishes
 * a sidecar's copy after Redis lost them (a wipe).
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { NumberKey } from '../numbers/number-key.js';
import type { CallOutcome } from '../check/protocol.js';
import { DAY_MS } from '../core/time.js';
import type { Client, Connection } from './connection.js';
import type { Durability, WriteMark } from './durability.js';
import { positiveInteger, redisError } from './errors.js';
import { attemptsKey, refusalTtlMs, refusedKey } from './keys.js';

/** Décret 2022-1313: at most 4 calls or attempts per consumer per 30 days. */
export const DEFAULT_ATTEMPT_CAP = 4;
export const DEFAULT_ATTEMPT_WINDOW_MS = 30 * DAY_MS;
/** Décret 2022-1313: no call nor attempt for 60 days after a refusal. */
export const DEFAULT_REFUSAL_DAYS = 60;

/** A refusal or a counted attempt Redis acknowledged but no replica was seen to hold (redis/durability.ts). */
export type UnreplicatedWrite =
  | { readonly kind: 'refusal'; readonly key: NumberKey; readonly at: number; readonly until: number }
  | { readonly kind: 'attempt'; readonly key: NumberKey; readonly at: number; readonly member: string };

/** Told of every refusal and counted attempt the store records (the sidecar keeps a durable copy of them). */
export interface RuleWriteObserver {
  refusal(key: NumberKey, at: number, until: number): void;
  /** member: the attempt's member in the attempts set, re-published as is after a wipe. */
  attempt(key: NumberKey, at: number, member: string): void;
  /** One of the above that no replica was seen to hold: to re-publish once Redis (maybe a new master) answers. */
  unreplicated?(write: UnreplicatedWrite, mark: WriteMark): void;
}

export interface OutcomeOptions {
  /** No call for this many days after a refusal; the key lives refusalTtlMs(refusalDays). @default 60 */
  readonly refusalDays?: number | undefined;
}

export interface AttemptsRecord {
  /** Attempts within the window. */
  readonly count: number;
  /** Their times (ms, Redis clock), oldest first. */
  readonly times: number[];
  /** Redis's clock (ms). */
  readonly now: number;
}

export class ConsumerHistory {
  readonly #fast: Client;
  readonly #bulk: Client;
  readonly #prefix: string;
  readonly #durability: Durability;
  #ruleWrites: RuleWriteObserver | null = null;

  constructor(connection: Connection, prefix: string, durability: Durability) {
    this.#fast = connection.fast;
    this.#bulk = connection.bulk;
    this.#prefix = prefix;
    this.#durability = durability;
  }

  /** Who is told of the refusals recorded here (null: nobody). */
  observeRefusals(observer: RuleWriteObserver | null): void {
    this.#ruleWrites = observer;
  }

  /**
   * Records how a call ended. 'refused' starts (or restarts) the no-call period: `{p}refused:KEY` = now, expiring
   * after refusalTtlMs(refusalDays), never shortening a longer period running. 'no_answer' and 'answered' change
   * nothing: decide() counted the attempt at dial time. Returns Redis's clock (ms) and, for a refusal, whether a
   * replica was seen to hold it (redis/durability.ts; true when waiting is off; the observer is told otherwise).
   * Throws CALLGATE_ERR_BAD_REQUEST on a bad key, CALLGATE_ERR_CONFIG on bad refusalDays, CALLGATE_ERR_REDIS when
   * Redis fails (retry: it is idempotent but for the refusal time).
   */
  async recordOutcome(key: NumberKey, outcome: CallOutcome, options: OutcomeOptions = {}): Promise<{ readonly at: number; readonly replicated: boolean }> {
    const refusedAt = refusedKey(this.#prefix, key);
    if (outcome !== 'refused' && outcome !== 'answered' && outcome !== 'no_answer') {
      throw new CallgateError(ErrorCode.BAD_REQUEST, `outcome must be no_answer, answered or refused, got ${JSON.stringify(outcome)}`);
    }
    const ttl = refusalTtlMs(options.refusalDays ?? DEFAULT_REFUSAL_DAYS);
    let reply: unknown;
    const mark = this.#durability.mark();
    try {
      reply = await this.#fast.cgOutcome(refusedAt, outcome, ttl);
    } catch (err) {
      throw redisError(`recording a call outcome (${outcome})`, err);
    }
    const at = Number(reply);
    if (outcome !== 'refused') return { at, replicated: true };
    const observer = this.#ruleWrites;
    observer?.refusal(key, at, at + ttl);
    const replicated = await this.#durability.replicated(mark);
    if (!replicated) observer?.unreplicated?.({ kind: 'refusal', key, at, until: at + ttl }, mark);
    return { at, replicated };
  }

  /** The consumer's attempts within the window (Redis clock), for tests and the audit trail. Throws CALLGATE_ERR_REDIS. */
  async attemptsOf(key: NumberKey, options: { readonly windowMs?: number | undefined } = {}): Promise<AttemptsRecord> {
    const windowMs = options.windowMs ?? DEFAULT_ATTEMPT_WINDOW_MS;
    positiveInteger('windowMs', windowMs);
    const attempts = attemptsKey(this.#prefix, key);
    let reply: unknown;
    try {
      reply = await this.#bulk.cgAttempts(attempts, windowMs);
    } catch (err) {
      throw redisError('reading attempts', err);
    }
    const values = Array.isArray(reply) ? (reply as unknown[]).map(Number) : [];
    const [now = Number.NaN, ...times] = values;
    return { count: times.length, times, now };
  }

  /** Re-publishes a refusal (after a wipe) unless a longer one runs; false when it has ended or one runs. Throws CALLGATE_ERR_REDIS. */
  async restoreRefusal(key: NumberKey, at: number, until: number): Promise<boolean> {
    try {
      return (await this.#bulk.cgRestoreRefusal(refusedKey(this.#prefix, key), String(Math.floor(at)), Math.floor(until))) === 1;
    } catch (err) {
      throw redisError('restoring a refusal', err);
    }
  }

  /** Re-publishes attempts (after a wipe) under their own members, so that re-publishing twice counts once. Throws CALLGATE_ERR_REDIS. */
  async restoreAttempts(key: NumberKey, attempts: ReadonlyArray<{ readonly at: number; readonly member: string }>, windowMs: number = DEFAULT_ATTEMPT_WINDOW_MS): Promise<void> {
    if (attempts.length === 0) return;
    const k = attemptsKey(this.#prefix, key);
    try {
      await this.#bulk.zadd(k, ...attempts.flatMap((a) => [a.at, a.member]));
      await this.#bulk.pexpire(k, windowMs);
    } catch (err) {
      throw redisError('restoring attempts', err);
    }
  }
}
