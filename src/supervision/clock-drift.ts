/**
 * Watches this sidecar's clock against Redis's (TIME): the fleet compares times written by several
 * hosts (heartbeats, intraday changes and revocations, generation dates), so a host whose clock
 * drifts from Redis's by more than the threshold raises a `clock_drift` alert, cleared once back.
 * The round trip's uncertainty is taken off before comparing, so a slow Redis never reads as drift.
 */
import type { AlertRegistry } from './alerts.js';
import type { Logger } from '../core/logger.js';

export const CLOCK_DRIFT_ALERT_ID = 'clock_drift';

export interface ClockDriftOptions {
  /** Redis's clock, ms (redis/connection.ts Connection.now). */
  readonly remoteNow: () => Promise<number>;
  readonly alerts: AlertRegistry;
  /** Drift beyond this (ms) raises the alert. */
  readonly thresholdMs: number;
  /** @default 30000 */
  readonly everyMs?: number;
  readonly logger: Logger;
  /** This sidecar's clock. @default Date.now */
  readonly now?: () => number;
}

export interface ClockDriftMonitor {
  /** Measures now; the drift (local − Redis, ms), or null when Redis could not say. */
  check(): Promise<number | null>;
  stop(): void;
}

/** Pure: the drift that is certain, given a measure bracketed by two local readings. */
export function certainDriftMs(localBefore: number, remote: number, localAfter: number): number {
  const drift = (localBefore + localAfter) / 2 - remote;
  // TIME was read somewhere in [before, after]; only what lies beyond that span (and TIME's ms rounding) is drift.
  const uncertainty = (localAfter - localBefore) / 2 + 1;
  return Math.sign(drift) * Math.max(0, Math.abs(drift) - uncertainty);
}

export function startClockDriftMonitor(o: ClockDriftOptions): ClockDriftMonitor {
  const now = o.now ?? Date.now;
  const check = async (): Promise<number | null> => {
    let before: number;
    let remote: number;
    let after: number;
    try {
      before = now();
      remote = await o.remoteNow();
      after = now();
    } catch {
      // Redis unreachable: redis_unreachable says so; the drift is unknown, the last verdict stands.
      return null;
    }
    const drift = certainDriftMs(before, remote, after);
    if (Math.abs(drift) > o.thresholdMs) {
      o.alerts.raise({
        id: CLOCK_DRIFT_ALERT_ID,
        kind: 'clock_drift',
        severity: 'warning',
        message: `this sidecar's clock is ${(Math.abs(drift) / 1000).toFixed(1)} s ${drift > 0 ? 'ahead of' : 'behind'} Redis's (threshold ${(o.thresholdMs / 1000).toFixed(1)} s): heartbeats, intraday changes and list dates compare times across hosts; fix the host's time sync (NTP)`,
        details: { driftMs: Math.round(drift), thresholdMs: o.thresholdMs },
      });
    } else {
      o.alerts.clear(CLOCK_DRIFT_ALERT_ID);
    }
    return drift;
  };
  const timer = setInterval(() => {
    check().catch((err: unknown) => o.logger.warn({ err }, 'clock drift check failed'));
  }, o.everyMs ?? 30_000);
  timer.unref();
  check().catch((err: unknown) => o.logger.warn({ err }, 'clock drift check failed'));
  return { check, stop: () => clearInterval(timer) };
}
