/**
 * Where a list's generations come from and where their exact members live: in this process
 * (embedded) or in Redis shared by a fleet. The service only knows this interface. Also the port
 * through which call outcomes are kept (OutcomeRecorder), which differs by mode the same way.
 */
import type { RemoteConfirmer } from '../check/deny-lists.js';
import type { LocalRuleFacts } from './fleet-copy.js';
import type { CallOutcome } from '../check/protocol.js';
import type { NumberKey } from '../numbers/number-key.js';
import type { ListRefresher } from '../refresh/refresh.js';

export type ChangeOutcome =
  | {
      readonly ok: true;
      readonly list: string;
      readonly op: 'add' | 'remove';
      readonly count: number;
      readonly at: string;
      readonly id?: string;
      /** Present (false) only when Redis mode waits for replicas and none was seen to hold the change in time. */
      readonly replicated?: false;
    }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Who made an intraday change of one number on one list, and when (`callgate why`). */
export interface ChangeTrace {
  readonly list: string;
  readonly op: 'add' | 'remove';
  /** ms since epoch (Redis mode: Redis's clock). */
  readonly at: number;
  readonly who: string;
}

export interface ListBackend {
  readonly mode: 'embedded' | 'redis';
  /** Confirms Bloom hits outside the process; null when members are in memory. */
  readonly remote: RemoteConfirmer | null;
  /** Redis mode: refusals and attempts this sidecar recorded (its durable copy), counted on top of Redis's. */
  readonly local?: LocalRuleFacts;
  readonly refresher: ListRefresher;
  /** Loads (or takes over) every configured list and installs each in the registry as it is ready. */
  start(): Promise<void>;
  /** An intraday change (an opt-out recorded now, or its withdrawal), durable before it resolves. */
  change(op: 'add' | 'remove', list: string, keys: readonly NumberKey[], who: string): Promise<ChangeOutcome>;
  /**
   * The newest recorded change of `key` per list and op (at most one add and one remove per list), from what this
   * mode keeps (embedded: the journal; Redis: the newest entries of the change stream); a change no longer held
   * there (no journal, trimmed, older) is simply absent.
   */
  changesOf(key: NumberKey): Promise<readonly ChangeTrace[]>;
  /** The last load error of a list, for /readyz; null when none. */
  lastError(list: string): string | null;
  /** Backend health for /readyz (e.g. whether Redis is reachable). */
  describe(): Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * Where a call's outcome is kept for the rules that read it (a refusal starts a no-call period, décret 2022-1313).
 * Redis mode: redis/consumer-history.ts recordOutcome (one script call; throws CALLGATE_ERR_REDIS when Redis fails).
 * Embedded mode keeps none (EmbeddedOutcomes): no policy there reads refusals (rules-config.ts refuses one
 * that would without Redis); the outcome is still on the audit trail.
 */
export interface OutcomeRecorder {
  /** replicated false: Redis kept it but no replica was seen to hold it in time (redis/durability.ts). */
  recordOutcome(key: NumberKey, outcome: CallOutcome, options: { readonly refusalDays: number }): Promise<{ readonly replicated: boolean } | void>;
}

/** Embedded mode's OutcomeRecorder: keeps nothing (see OutcomeRecorder). */
export class EmbeddedOutcomes implements OutcomeRecorder {
  recordOutcome(): Promise<void> {
    return Promise.resolve();
  }
}

/** Folds changes, newest first, into the newest one per list and op. */
export class NewestChanges {
  readonly #seen = new Map<string, ChangeTrace>();

  /** Keeps `c` unless a newer change of its list and op was kept. */
  offer(c: ChangeTrace): void {
    const id = `${c.op}\u0000${c.list}`;
    if (!this.#seen.has(id)) this.#seen.set(id, c);
  }

  get all(): ChangeTrace[] {
    return [...this.#seen.values()];
  }
}
