/**
 * Wires one running callgate: list registry + backend (embedded or Redis) → checker → check socket
 * and HTTP routes on one port. The server listens at once; until every list is loaded, /readyz
 * says 503 and checks answer `block` / `not_ready`.
 */
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { adminRoutes } from './admin-routes.js';
import { dashboardRoutes } from './dashboard-assets.js';
import { AlertRegistry } from './alerts.js';
import { Checker } from './check.js';
import type { ServeConfig } from './config.js';
import { createHttpServer, type HttpReply, type RouteHandler, type UpgradeHandler } from './http-server.js';
import type { ListBackend } from './list-backend.js';
import { ListRegistry } from './list-state.js';
import type { Logger } from './logger.js';
import { AuditLog } from './audit-log.js';
import { createRequestHandler } from './request-handler.js';
import { RulesChecker } from './rules-check.js';
import { startFreshnessMonitor, startRefreshSchedules } from './refresh-scheduler.js';
import { CheckStats } from './check-stats.js';
import { FleetStats } from './fleet-stats.js';
import { createMetrics } from './metrics.js';
import type { RedisStore } from './redis-store.js';
import { StatsService } from './stats-service.js';
import { statsRoutes, statsUpgrade } from './stats-routes.js';
import { CheckSocketServer, StatsSocketServer } from './ws-server.js';

export interface RunningService {
  readonly port: number;
  readonly registry: ListRegistry;
  readonly alerts: AlertRegistry;
  readonly backend: ListBackend;
  readonly stats: StatsService;
  /** Settles when the initial load of every list has been attempted (not necessarily succeeded). */
  readonly loaded: Promise<void>;
  stop(): Promise<void>;
}

export type BackendFactory = (deps: { registry: ListRegistry; alerts: AlertRegistry }) => ListBackend;

export interface ServiceOptions {
  /** The clock of every rule (staleness, alerts); tests inject one. @default Date.now */
  readonly now?: () => number;
  /** Run the cron refresh schedules. @default true */
  readonly schedules?: boolean;
  /** Redis mode: the store, for fleet figures. */
  readonly store?: RedisStore | null;
  /** Extra routes (the dashboard's assets). */
  readonly extraRoutes?: ReadonlyMap<string, RouteHandler>;
}

export async function startService(config: ServeConfig, logger: Logger, makeBackend: BackendFactory, options: ServiceOptions = {}): Promise<RunningService> {
  const now = options.now ?? Date.now;
  const registry = new ListRegistry(config.lists);
  const alerts = new AlertRegistry({ logger: logger.child({ component: 'alerts' }), now });
  const backend = makeBackend({ registry, alerts });
  const checker = new Checker(registry, backend.remote, now);
  const stats = new CheckStats({ now });
  const store = options.store ?? null;

  const counted = config.stats;
  const rulesChecker = new RulesChecker({ registry, store, foreignTimezone: config.rules.foreignTimezone, now, local: backend.local ?? null });
  const audit = config.auditDir === null ? null : await AuditLog.open({ dir: config.auditDir, instanceId: config.instanceId, retentionDays: config.auditRetentionDays, now, logger: logger.child({ component: 'audit' }) });
  // Counting is decided once here: with stats off, the handler does no bookkeeping at all.
  const handle = createRequestHandler({ registry, checker, rules: config.rules, rulesChecker, store, stats: counted ? stats : null, audit, batchSliceSize: config.batchSliceSize, now });

  const sockets = new CheckSocketServer({
    maxPayloadBytes: config.maxPayloadBytes,
    maxInFlight: config.maxInFlight,
    limits: { maxBatchSize: config.maxBatchSize },
    logger: logger.child({ component: 'ws' }),
    handle,
  });

  let freshness: { check(): void; stop(): void } | null = null;
  let schedules: { next(): Record<string, string | null>; stop(): void } | null = null;
  const blockList = config.blockList ?? config.lists.find((l) => l.kind === 'deny' && l.source === null)?.name ?? null;
  const redisUp = store === null ? null : (): boolean => store.isUp();
  const fleet = store !== null && counted ? new FleetStats({ store, stats, instanceId: config.instanceId, logger: logger.child({ component: 'fleet-stats' }), now }) : null;
  const statsService = new StatsService({
    stats,
    registry,
    alerts,
    instanceId: config.instanceId,
    mode: backend.mode,
    fleet,
    store,
    nextRefresh: () => schedules?.next() ?? {},
    logger: logger.child({ component: 'stats' }),
    now,
  });
  const metrics = counted
    ? createMetrics({ stats, registry, alerts, connections: () => sockets.connectionCount, redisUp, lastRefresh: (list) => backend.refresher.last(list) })
    : null;
  const statsSockets = new StatsSocketServer(() => statsService.view(), logger.child({ component: 'stats-ws' }));
  const routes = new Map<string, RouteHandler>([
    ['GET /healthz', (): HttpReply => ({ status: 200, body: { status: 'ok' } })],
    ['GET /readyz', (): HttpReply => readiness(registry, backend, alerts, schedules?.next() ?? {})],
    ['GET /api/alerts', (): HttpReply => ({ status: 200, body: { alerts: alerts.active() } })],
    ...adminRoutes({ registry, backend, adminToken: config.adminToken, blockList, logger: logger.child({ component: 'admin' }), afterRefresh: () => freshness?.check() }),
    ...statsRoutes({ stats: statsService, metrics, statsToken: config.statsToken, adminToken: config.adminToken }),
    ...dashboardRoutes({ token: config.statsToken }),
    ...(options.extraRoutes ?? []),
  ]);
  const upgrades = new Map<string, UpgradeHandler>([
    ['/', (req: IncomingMessage, socket: Duplex, head: Buffer) => sockets.handleUpgrade(req, socket, head)],
    ['/stats', statsUpgrade(config.statsToken, config.adminToken, (req, socket, head) => statsSockets.handleUpgrade(req, socket, head))],
  ]);
  const http = createHttpServer({ routes, upgrades }, logger.child({ component: 'http' }));

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  logger.info({ host: config.host, port, mode: backend.mode, lists: config.lists.map((l) => l.name) }, 'listening');

  let stopping: Promise<void> | null = null;
  const loaded = backend
    .start()
    .catch((err: unknown) => {
      logger.error({ err }, 'initial list load failed');
    })
    .then(() => {
      // A stop during the initial load must not be followed by timers it can no longer clear: they
      // would keep the process alive after 'stopped' (seen with SIGTERM just after a load finished).
      if (stopping !== null) return;
      fleet?.start();
      statsService.start(redisUp, 5000);
      freshness = startFreshnessMonitor(registry, alerts, now);
      if (options.schedules !== false) schedules = startRefreshSchedules(registry, backend.refresher, logger.child({ component: 'schedule' }));
    });

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ connections: sockets.connectionCount }, 'stopping: draining connections');
      http.close();
      schedules?.stop();
      freshness?.stop();
      statsService.stop();
      statsSockets.close();
      await sockets.drain(config.shutdownGraceMs);
      await fleet?.stop();
      await audit?.close();
      http.closeAllConnections();
      await backend.close();
      logger.info('stopped');
    })();
    return stopping;
  };

  return { port, registry, alerts, backend, stats: statsService, loaded, stop };
}

function readiness(registry: ListRegistry, backend: ListBackend, alerts: AlertRegistry, nextRefresh: Record<string, string | null>): HttpReply {
  const snap = registry.current;
  const lists = snap.slots.map((s) => ({
    name: s.spec.name,
    kind: s.spec.kind,
    loaded: s.state !== null,
    generation: s.state?.generation ?? null,
    count: s.state?.count ?? null,
    loadedAt: s.state?.loadedAt.toISOString() ?? null,
    sourceDate: s.state?.sourceDate?.toISOString() ?? null,
    lastError: backend.lastError(s.spec.name),
    intradayAdditions: s.intraday.size,
    nextRefresh: nextRefresh[s.spec.name] ?? null,
  }));
  const missing = registry.missing();
  const reasons: string[] = [];
  if (lists.length === 0) reasons.push('no list is current (Redis has none yet)');
  for (const name of missing) reasons.push(`list ${name} is not loaded`);
  // Redis being down does not make the sidecar unready: misses still answer, hits block as
  // `unconfirmed`; taking every sidecar out of rotation during a Redis blip would help nobody.
  return { status: snap.ready ? 200 : 503, body: { ready: snap.ready, mode: backend.mode, ...backend.describe(), lists, missing, reasons, alerts: alerts.active() } };
}
