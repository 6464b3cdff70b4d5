/**
 * The one place alerts are raised and cleared. An alert is a condition that is true until cleared
 * (a refused refresh, an ageing list), keyed by a stable id such as 'refresh_refused:bloctel', so
 * raising it again each night updates it instead of piling up duplicates. The log gets a line when an
 * alert appears, escalates (kind or severity changes) or clears, not on every repeat.
 *
 * Alerts end up in logs, /metrics and the dashboard: callers must never put a phone number in an id,
 * message or details (not even a bad line's text; give its line number).
 */
import type { Logger } from '../core/logger.js';

export const ALERT_KINDS = [
  'refresh_refused',
  'refresh_failed',
  'list_ageing',
  'list_stale',
  'redis_unreachable',
  'block_rate',
  'latency',
  'clock_drift',
  'list_baseline_missing',
  'redis_eviction',
  'redis_format',
  'unconfirmed_rate',
  'audit_unavailable',
  'list_not_loaded',
  'list_registry',
  'redis_wiped',
  'redis_role',
  'redis_failover',
  'redis_persistence',
  'redis_unreplicated',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export type AlertSeverity = 'warning' | 'critical';

export interface AlertInput {
  /** Stable across repeats: `<kind>:<list>` by convention. */
  readonly id: string;
  readonly kind: AlertKind;
  readonly severity: AlertSeverity;
  /** For a person; no phone number. */
  readonly message: string;
  /** The list concerned, when there is one. */
  readonly list?: string;
  /** Machine-readable facts (counts, dates, thresholds); no phone number. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface Alert extends AlertInput {
  /** ISO 8601: when it was first raised (kept across updates). */
  readonly raisedAt: string;
  /** ISO 8601: when it was last raised. */
  readonly updatedAt: string;
}

export type AlertChange =
  | { readonly type: 'raised'; readonly alert: Alert }
  | { readonly type: 'updated'; readonly alert: Alert }
  | { readonly type: 'cleared'; readonly alert: Alert };

export type AlertListener = (change: AlertChange) => void;

export interface AlertRegistryOptions {
  readonly logger: Logger;
  /** @default Date.now */
  readonly now?: () => number;
}

export class AlertRegistry {
  readonly #log: Logger;
  readonly #now: () => number;
  /** Insertion-ordered: active() lists alerts in the order they were first raised. */
  readonly #active = new Map<string, Alert>();
  readonly #listeners = new Set<AlertListener>();

  constructor(opts: AlertRegistryOptions) {
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
  }

  /** Raises an alert, or updates it (message, details, updatedAt) when its id is already active. */
  raise(input: AlertInput): void {
    const at = new Date(this.#now()).toISOString();
    const previous = this.#active.get(input.id);
    const alert: Alert = Object.freeze({
      id: input.id,
      kind: input.kind,
      severity: input.severity,
      message: input.message,
      ...(input.list === undefined ? {} : { list: input.list }),
      ...(input.details === undefined ? {} : { details: Object.freeze({ ...input.details }) }),
      raisedAt: previous?.raisedAt ?? at,
      updatedAt: at,
    });
    this.#active.set(alert.id, alert);
    if (previous === undefined) {
      this.#logRaised(alert, 'alert raised');
      this.#emit({ type: 'raised', alert });
    } else {
      // An escalation (warning → critical, ageing → stale under one id) is news; a nightly repeat is not.
      if (previous.severity !== alert.severity || previous.kind !== alert.kind) this.#logRaised(alert, 'alert changed');
      this.#emit({ type: 'updated', alert });
    }
  }

  /** Clears an active alert; returns false (and does nothing) when the id is not active. */
  clear(id: string): boolean {
    const alert = this.#active.get(id);
    if (alert === undefined) return false;
    this.#active.delete(id);
    this.#log.info({ alert: logFields(alert) }, `alert cleared: ${alert.id}`);
    this.#emit({ type: 'cleared', alert });
    return true;
  }

  /** A snapshot of the active alerts, oldest first. */
  active(): Alert[] {
    return [...this.#active.values()];
  }

  get(id: string): Alert | undefined {
    return this.#active.get(id);
  }

  /** Calls listener on every raise, update and clear; returns the function that unsubscribes it. */
  onChange(listener: AlertListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #logRaised(alert: Alert, what: string): void {
    const fields = { alert: logFields(alert) };
    const msg = `${what}: ${alert.id}: ${alert.message}`;
    if (alert.severity === 'critical') this.#log.error(fields, msg);
    else this.#log.warn(fields, msg);
  }

  #emit(change: AlertChange): void {
    for (const listener of this.#listeners) {
      // One broken listener (a dashboard push) must not stop the others, nor the caller raising.
      try {
        listener(change);
      } catch (err) {
        this.#log.error({ err, alertId: change.alert.id }, 'alert listener failed');
      }
    }
  }
}

function logFields(alert: Alert): Record<string, unknown> {
  return {
    id: alert.id,
    kind: alert.kind,
    severity: alert.severity,
    ...(alert.list === undefined ? {} : { list: alert.list }),
    ...(alert.details === undefined ? {} : { details: alert.details }),
    raisedAt: alert.raisedAt,
  };
}
