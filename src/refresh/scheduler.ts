/**
 * Time-driven side of refresh: each list with a source is refreshed on its cron schedule (default
 * 02:30 Europe/Paris), and its freshness is watched — an alert some days before it goes stale,
 * another once it is (checks then answer `stale_list`, see lists/registry.ts); a list that is not loaded
 * is retried with backoff until it is.
 */
import type { AlertRegistry } from '../supervision/alerts.js';
import type { ListRegistry } from '../lists/registry.js';
import type { Logger } from '../core/logger.js';
import { freshness } from './guards.js';
import type { ListRefresher, RefreshOutcome } from './refresh.js';
import { createSchedule, type Schedule } from './cron.js';

export interface RefreshSchedules {
  /** Next scheduled run per list (ISO), for /readyz and the dashboard. */
  next(): Record<string, string | null>;
  stop(): void;
}

export function startRefreshSchedules(registry: ListRegistry, refresher: ListRefresher, logger: Logger): RefreshSchedules {
  const schedules = new Map<string, Schedule>();
  for (const slot of registry.current.slots) {
    const { spec } = slot;
    if (spec.source === null) continue;
    const schedule = createSchedule(
      spec.refresh.cron,
      spec.refresh.timezone,
      () => {
        refresher
          .refresh(spec.name, { force: false, trigger: 'schedule' })
          .then((o) => logger.info({ list: spec.name, status: o.status, generation: o.generation, durationMs: o.durationMs }, 'scheduled refresh done'))
          .catch((err: unknown) => logger.error({ list: spec.name, err }, 'scheduled refresh crashed'));
      },
      { onError: (err) => logger.error({ list: spec.name, err }, 'scheduled refresh crashed') },
    );
    schedules.set(spec.name, schedule);
  }
  return {
    next: () => Object.fromEntries([...schedules].map(([name, s]) => [name, s.nextRun()?.toISOString() ?? null])),
    stop: () => {
      for (const s of schedules.values()) s.stop();
    },
  };
}

export interface FreshnessMonitor {
  /** Re-evaluates every list now (also after each refresh). */
  check(): void;
  stop(): void;
}

export function startFreshnessMonitor(registry: ListRegistry, alerts: AlertRegistry, now: () => number, everyMs = 60_000): FreshnessMonitor {
  const check = (): void => {
    const at = new Date(now());
    for (const slot of registry.current.slots) {
      const name = slot.spec.name;
      const state = slot.state;
      if (state === null || state.sourceDate === null) {
        alerts.clear(`list_ageing:${name}`);
        alerts.clear(`list_stale:${name}`);
        continue;
      }
      const f = freshness({ sourceDate: state.sourceDate, fetchedAt: state.loadedAt }, at, { maxAgeDays: slot.spec.refresh.maxAgeDays, warnDays: slot.spec.refresh.warnDays });
      const details = { sourceDate: state.sourceDate.toISOString(), staleAt: f.staleAt.toISOString(), maxAgeDays: slot.spec.refresh.maxAgeDays, generation: state.generation };
      if (f.state === 'stale') {
        alerts.clear(`list_ageing:${name}`);
        alerts.raise({ id: `list_stale:${name}`, kind: 'list_stale', severity: 'critical', list: name, message: `list ${name} is stale since ${f.staleAt.toISOString()}: every check that consults it is blocked (stale_list) until it is refreshed`, details });
      } else if (f.state === 'ageing') {
        alerts.clear(`list_stale:${name}`);
        alerts.raise({ id: `list_ageing:${name}`, kind: 'list_ageing', severity: 'warning', list: name, message: `list ${name} goes stale at ${f.staleAt.toISOString()}; refresh it before then`, details });
      } else {
        alerts.clear(`list_ageing:${name}`);
        alerts.clear(`list_stale:${name}`);
      }
    }
  };
  check();
  const timer = setInterval(check, everyMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

/** Backoff of the retries of a list that is not loaded. */
export interface LoadRetryTimings {
  /** First retry after a refused or failed load. @default 30000 */
  readonly minMs: number;
  /** The delay doubles up to this. @default 900000 (15 min) */
  readonly maxMs: number;
}

/** Why a list is not loaded, and when it is tried again (for /readyz). */
export interface LoadRetryStatus {
  /** The last attempt's code: a guard code (bad_lines …), busy, or a CALLGATE_ERR_* code. */
  readonly code: string;
  readonly message: string;
  readonly attempts: number;
  readonly nextRetryAt: string;
}

export interface LoadRetries {
  status(list: string): LoadRetryStatus | null;
  stop(): void;
}

export interface LoadRetryDeps {
  readonly registry: ListRegistry;
  readonly refresher: ListRefresher;
  readonly alerts: AlertRegistry;
  readonly logger: Logger;
  readonly timings: LoadRetryTimings;
  /** The backend's last load error of a list, when the refresher has no outcome for it. */
  readonly lastError: (list: string) => string | null;
  readonly now: () => number;
}

/** After a lock's expiry, so that the retry finds it gone. */
const LOCK_EXPIRY_MARGIN_MS = 20;

/**
 * Retries every list with a source that is not loaded (refused or failed at start-up, or whose refresh
 * lock another process holds), with backoff: without this, a list refused at start-up was tried again
 * only at its next scheduled refresh, blocking every check that consults it for a day. A busy list is
 * retried when the holder's lock expires (a dead process never releases it). A critical alert stays
 * raised while a list is not loaded. Stops caring about a list as soon as it is loaded, by any path.
 */
export function startLoadRetries(deps: LoadRetryDeps): LoadRetries {
  const { registry, refresher, alerts, logger, timings, now } = deps;
  const pending = new Map<string, { timer: NodeJS.Timeout; delayMs: number; status: LoadRetryStatus }>();
  let stopped = false;

  const loaded = (name: string): boolean => registry.slot(name)?.state != null;

  const settle = (name: string): void => {
    const p = pending.get(name);
    if (p === undefined) return;
    clearTimeout(p.timer);
    pending.delete(name);
    alerts.clear(`list_not_loaded:${name}`);
    logger.info({ list: name, attempts: p.status.attempts }, 'list loaded after retrying');
  };

  const plan = (name: string, outcome: RefreshOutcome | null, attempts: number): void => {
    if (stopped) return;
    const previous = pending.get(name);
    const busy = outcome?.status === 'busy';
    // A busy lock is no failure of the list: the backoff grows only with refusals and failures.
    const backoffMs = previous === undefined ? timings.minMs : busy ? previous.delayMs : Math.min(previous.delayMs * 2, timings.maxMs);
    const delayMs = busy ? Math.min((outcome.retryInMs ?? 0) + LOCK_EXPIRY_MARGIN_MS, timings.maxMs) : backoffMs;
    const code = outcome?.code ?? outcome?.status ?? 'not_loaded';
    const message = outcome?.message ?? deps.lastError(name) ?? 'the list is not loaded';
    const status: LoadRetryStatus = { code, message, attempts, nextRetryAt: new Date(now() + delayMs).toISOString() };
    if (previous !== undefined) clearTimeout(previous.timer);
    const timer = setTimeout(() => {
      if (stopped) return;
      if (loaded(name)) return settle(name);
      refresher
        .refresh(name, { force: false, trigger: 'retry' })
        .then((o) => (loaded(name) ? settle(name) : plan(name, o, attempts + 1)))
        .catch((err: unknown) => {
          logger.error({ list: name, err }, 'retrying the load crashed');
          plan(name, null, attempts + 1);
        });
    }, delayMs);
    timer.unref();
    pending.set(name, { timer, delayMs: backoffMs, status });
    alerts.raise({
      id: `list_not_loaded:${name}`,
      kind: 'list_not_loaded',
      severity: 'critical',
      list: name,
      message: `list ${name} is not loaded (${code}: ${message}): checks that consult it are blocked (not_ready); retrying at ${status.nextRetryAt}`,
      details: { code, attempts, nextRetryAt: status.nextRetryAt },
    });
    logger.warn({ list: name, code, attempts, retryInMs: delayMs }, 'list not loaded; retrying');
  };

  for (const slot of registry.current.slots) {
    if (slot.spec.source === null || slot.state !== null) continue;
    plan(slot.spec.name, refresher.last(slot.spec.name).outcome, 0);
  }
  // Loaded by another path (a fleet peer's generation, an admin refresh): stop retrying it at once.
  const unsubscribe = registry.subscribe(() => {
    for (const name of [...pending.keys()]) if (loaded(name)) settle(name);
  });

  return {
    status: (list) => pending.get(list)?.status ?? null,
    stop: () => {
      stopped = true;
      unsubscribe();
      for (const p of pending.values()) clearTimeout(p.timer);
      pending.clear();
    },
  };
}
