/**
 * What the parts of the Redis-mode backend share: its dependencies, its settings and the few fields they
 * all read and write (the durable copy, the stream position, the clock offset, closed). One object built by
 * createRedisBackend (backends/redis.ts) and handed to each part, so that start-up, generation switches,
 * intraday sync, wipe recovery and the fleet timers can live in files of their own yet stay one backend.
 */
import type { AlertRegistry } from '../supervision/alerts.js';
import type { ListDefaults } from '../config/list-spec.js';
import type { ListRegistry } from '../lists/registry.js';
import type { Logger } from '../core/logger.js';
import type { RedisStore } from '../redis/store.js';
import type { FleetCopy } from './fleet-copy.js';

export interface FleetTimings {
  /** How often the current pointers are polled (the safety net under pub/sub). @default 2000 */
  readonly pollMs: number;
  /** How often this sidecar says which generations it reads. @default 5000 */
  readonly heartbeatMs: number;
  /** How often old generations are collected. @default 60000 */
  readonly gcEveryMs: number;
  /** A generation younger than this is never collected (loads in progress, sidecars switching). @default 600000 */
  readonly gcGraceMs: number;
  /** Refresh lock expiry; renewed every third of it while the load runs. @default 30000 */
  readonly lockTtlMs: number;
  /**
   * After a wipe, how long this sidecar waits, once it has re-published its copy, before answering rules checks
   * again: time for the other live sidecars (which see the wipe within pollMs) to re-publish theirs.
   * @default 3 × pollMs
   */
  readonly wipeHoldMs: number;
}

export const DEFAULT_FLEET_TIMINGS: FleetTimings = Object.freeze({ pollMs: 2000, heartbeatMs: 5000, gcEveryMs: 60_000, gcGraceMs: 600_000, lockTtlMs: 30_000, wipeHoldMs: 6000 });

/** `who` of the changes a sidecar re-publishes from its copy after a wipe. */
export const RESTORE_WHO = 'callgate:restore';

export interface RedisBackendOptions {
  readonly registry: ListRegistry;
  readonly store: RedisStore;
  readonly alerts: AlertRegistry;
  readonly logger: Logger;
  readonly defaults: ListDefaults;
  readonly instanceId: string;
  readonly timings?: Partial<FleetTimings>;
  /** This sidecar's durable copy (backends/journal.ts format); null keeps it in memory only (lost on restart). @default null */
  readonly journalPath?: string | null;
  /** Attempts kept in the copy this long (the longest frequency window of any policy). @default 30 days */
  readonly keepAttemptsMs?: number;
}

export interface RedisBackendContext {
  readonly options: RedisBackendOptions;
  readonly registry: ListRegistry;
  readonly store: RedisStore;
  readonly alerts: AlertRegistry;
  readonly logger: Logger;
  readonly timings: FleetTimings;
  /** List name → its last load or take-over error (for /readyz). */
  readonly errors: Map<string, string>;
  /** Interval timers, cleared by close(). */
  readonly timers: NodeJS.Timeout[];
  /** Followers and subscriptions, stopped by close(). */
  readonly stoppers: (() => Promise<void>)[];
  /** Redis clock − local clock, so intraday cut-offs are on Redis's clock. */
  clockOffsetMs: number;
  /** Set by start(): the durable copy (memory only until then). */
  copy: FleetCopy | null;
  /** The stream id of the last change this sidecar applied. */
  lastAppliedId: string;
  // Set by close(): a start() still running (SIGTERM during the initial load) must not open followers or
  // timers after it, which nothing would stop.
  closed: boolean;
  /** No list configured: the sidecar serves every list current in Redis. */
  discoverAll: boolean;
}

export function createRedisBackendContext(options: RedisBackendOptions): RedisBackendContext {
  const { registry, store, alerts, logger } = options;
  const timings: FleetTimings = { ...DEFAULT_FLEET_TIMINGS, wipeHoldMs: 3 * (options.timings?.pollMs ?? DEFAULT_FLEET_TIMINGS.pollMs), ...options.timings };
  return { options, registry, store, alerts, logger, timings, errors: new Map(), timers: [], stoppers: [], clockOffsetMs: 0, copy: null, lastAppliedId: '0-0', closed: false, discoverAll: false };
}

/** The lists this sidecar serves. */
export function listNames(ctx: RedisBackendContext): string[] {
  return ctx.registry.current.slots.map((s) => s.spec.name);
}
