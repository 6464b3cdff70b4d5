/**
 * Time-driven side of refresh: each list with a source is refreshed on its cron schedule (default
 * 02:30 Europe/Paris), and its freshness is watched — an alert some days before it goes stale,
 * another once it is (checks then answer `stale_list`, see list-state.ts).
 */
import type { AlertRegistry } from './alerts.js';
import type { ListRegistry } from './list-state.js';
import type { Logger } from './logger.js';
import { freshness } from './refresh-guards.js';
import type { ListRefresher } from './refresh.js';
import { createSchedule, type Schedule } from './schedule.js';

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
        alerts.raise({ id: `list_stale:${name}`, kind: 'list_stale', severity: 'critical', list: name, message: `list ${name} is stale since ${f.staleAt.toISOString()}: every check is blocked (stale_list) until it is refreshed`, details });
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
