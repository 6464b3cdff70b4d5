/**
 * Wires one running callgate: list registry + backend (embedded or Redis) → checker → check socket,
 * HTTP check doors (server/http-check.ts, the same request handler) and HTTP routes on one port. The
 * server listens at once; until every list is loaded (and, in Redis mode, the scripts are warm),
 * /readyz says 503 with the reasons, and checks answer `block` / `not_ready`.
 * What differs by mode beyond the lists comes as a GateMode (backends/gate-mode.ts): nothing here asks
 * which mode it is in.
 */
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { adminRoutes, applyChange } from './admin/routes.js';
import { whyRoutes } from './admin/why-route.js';
import { dashboardRoutes } from './supervision/dashboard-assets.js';
import { AlertRegistry } from './supervision/alerts.js';
import { Checker } from './check/deny-lists.js';
import type { ServeConfig } from './config/config.js';
import { createHttpServer, refuseUpgrade, type HttpReply, type RouteHandler, type UpgradeHandler } from './server/http-server.js';
import { httpCheckRoutes, mayOpenCheckSocket } from './server/http-check.js';
import type { GateMode } from './backends/gate-mode.js';
import type { ListBackend } from './backends/list-backend.js';
import { ListRegistry } from './lists/registry.js';
import type { Logger } from './core/logger.js';
import { AuditLog } from './audit/writer.js';
import { createCheckHandlers } from './check/request-handler.js';
import { RulesChecker } from './rules/rules-check.js';
import { startFreshnessMonitor, startLoadRetries, startRefreshSchedules, type LoadRetries } from './refresh/scheduler.js';
import { CheckStats } from './supervision/check-stats.js';
import { ConfirmStats, countingConfirmer } from './supervision/confirm-stats.js';
import { createMetrics } from './supervision/metrics.js';
import { StatsService } from './supervision/stats-service.js';
import { createSiteGuard } from './server/site-guard.js';
import { statsRoutes, statsUpgrade } from './supervision/routes.js';
import { CheckSocketServer, type ConnectionCounters } from './server/ws-check.js';
import { StatsSocketServer } from './server/ws-stats.js';

export interface RunningService {
  readonly port: number;
  readonly registry: ListRegistry;
  readonly alerts: AlertRegistry;
  readonly backend: ListBackend;
  readonly stats: StatsService;
  /** Counters of each open check socket (bytes read, in flight, unsent). */
  readonly checkConnections: () => readonly ConnectionCounters[];
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
  /** What differs by mode beyond the lists: rule facts, outcomes, stats figures, warm-up, Redis's health and clock. */
  readonly mode: GateMode;
  /** Extra routes (the dashboard's assets). */
  readonly extraRoutes?: ReadonlyMap<string, RouteHandler>;
}

export async function startService(config: ServeConfig, logger: Logger, makeBackend: BackendFactory, options: ServiceOptions): Promise<RunningService> {
  const now = options.now ?? Date.now;
  const registry = new ListRegistry(config.lists);
  const alerts = new AlertRegistry({ logger: logger.child({ component: 'alerts' }), now });
  const backend = makeBackend({ registry, alerts });
  // Redis's answers per list, for the unconfirmed_rate alert (only Bloom hits are counted, so even with stats off).
  const confirms = backend.mode === 'redis' ? new ConfirmStats({ keepMs: config.unconfirmedAlertWindowMs, now }) : null;
  const checker = new Checker(registry, backend.remote !== null && confirms !== null ? countingConfirmer(backend.remote, confirms) : backend.remote, now);
  const stats = new CheckStats({ now });
  const { mode } = options;

  const counted = config.stats;
  const facts = mode.rulesFacts({ confirms, local: backend.local ?? null });
  const rulesChecker = new RulesChecker({ registry, facts, foreignTimezone: config.rules.foreignTimezone, now });
  const audit = config.auditDir === null ? null : await AuditLog.open({ dir: config.auditDir, instanceId: config.instanceId, retentionDays: config.auditRetentionDays, maxPendingBytes: config.auditMaxPendingBytes, now, logger: logger.child({ component: 'audit' }) });
  const auditStats = audit === null ? null : () => audit.stats();
  // Counting is decided once here: with stats off, the handler does no bookkeeping at all.
  const handlerDeps = { registry, checker, rules: config.rules, rulesChecker, outcomes: mode.outcomes, stats: counted ? stats : null, audit, batchSliceSize: config.batchSliceSize, now };
  const { handle, checkOne } = createCheckHandlers(handlerDeps);
  // `callgate why`: the facts it gathers come from a RulesFacts of its own, left out of the unconfirmed_rate figures
  // (its verdicts, decided by the check's own code, count there as a check's Redis answers do).
  const why = { registry, backend, facts: mode.rulesFacts({ confirms: null, local: backend.local ?? null }), handler: handlerDeps, now };

  const sockets = new CheckSocketServer({
    maxPayloadBytes: config.maxPayloadBytes,
    maxInFlight: config.maxInFlight,
    maxInFlightBytes: config.maxInFlightBytes,
    maxConnections: config.maxConnections,
    pingIntervalMs: config.pingIntervalMs,
    limits: { maxBatchSize: config.maxBatchSize },
    logger: logger.child({ component: 'ws' }),
    handle,
  });

  let freshness: { check(): void; stop(): void } | null = null;
  let clockDrift: { stop(): void } | null = null;
  let schedules: { next(): Record<string, string | null>; stop(): void } | null = null;
  let retries: LoadRetries | null = null;
  const blockList = config.blockList ?? config.lists.find((l) => l.kind === 'deny' && l.source === null)?.name ?? null;
  const redisUp = mode.redisUp;
  const figures = mode.statsFigures({ stats, counted, instanceId: config.instanceId, logger: logger.child({ component: 'fleet-stats' }), now });
  const statsService = new StatsService({
    stats,
    registry,
    alerts,
    instanceId: config.instanceId,
    figures,
    nextRefresh: () => schedules?.next() ?? {},
    logger: logger.child({ component: 'stats' }),
    now,
    rules: { unconfirmedRatio: config.unconfirmedAlertRatio, unconfirmedWindowMs: config.unconfirmedAlertWindowMs, unconfirmedMinCount: config.unconfirmedAlertMinCount },
    confirms,
    audit: auditStats,
  });
  const metrics = counted
    ? createMetrics({ stats, registry, alerts, connections: () => sockets.connectionCount, redisUp, redisServerChanges: mode.redisServerChanges, lastRefresh: (list) => backend.refresher.last(list), confirms, audit: auditStats })
    : null;
  const statsSockets = new StatsSocketServer(() => statsService.view(), logger.child({ component: 'stats-ws' }), 1000, config.maxConnections);
  const adminDeps = { registry, backend, adminToken: config.adminToken, blockList, logger: logger.child({ component: 'admin' }), afterRefresh: () => freshness?.check() };
  const routes = new Map<string, RouteHandler>([
    ['GET /healthz', (): HttpReply => ({ status: 200, body: { status: 'ok' } })],
    ['GET /readyz', (): HttpReply => readiness({ registry, backend, alerts, nextRefresh: schedules?.next() ?? {}, retries, warm: mode.isWarm(), now: now() })],
    ['GET /api/alerts', (): HttpReply => ({ status: 200, body: { alerts: alerts.active() } })],
    ...adminRoutes(adminDeps),
    ...whyRoutes({ why, adminToken: config.adminToken, audit, logger: logger.child({ component: 'why' }) }),
    ...statsRoutes({ stats: statsService, metrics, statsToken: config.statsToken, adminToken: config.adminToken }),
    ...dashboardRoutes({ token: config.statsToken }),
    ...(options.extraRoutes ?? []),
  ]);
  // The check doors read no URL object: answered without one (server/http-server.ts, looked up before `routes`).
  const plain = httpCheckRoutes({
    handle,
    check: checkOne,
    limits: { maxBatchSize: config.maxBatchSize },
    maxBodyBytes: config.maxPayloadBytes,
    checkToken: config.checkToken,
    optoutToken: config.optoutToken,
    adminToken: config.adminToken,
    optOut: (numbers, who) => applyChange(adminDeps, 'add', null, numbers, who),
    logger: logger.child({ component: 'http-check' }),
  });
  // An extra route given for a door's key replaces it, as it did when they shared one table.
  for (const key of options.extraRoutes?.keys() ?? []) plain.delete(key);
  const upgrades = new Map<string, UpgradeHandler>([
    [
      '/',
      (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (!mayOpenCheckSocket(req, config.checkToken)) refuseUpgrade(socket, 401, 'unauthorized', 'a check token is required: ?token=… or Authorization: Bearer …');
        else sockets.handleUpgrade(req, socket, head);
      },
    ],
    ['/stats', statsUpgrade(config.statsToken, config.adminToken, (req, socket, head) => statsSockets.handleUpgrade(req, socket, head))],
  ]);
  const guard = createSiteGuard({ listenHost: config.host, allowedHosts: config.allowedHosts });
  const http = createHttpServer({ routes, plain, upgrades, guard }, { maxSockets: config.maxSockets }, logger.child({ component: 'http' }));

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
    .then(async () => {
      // Redis mode: not ready until the scripts are loaded and one check script answered.
      await mode.warmUp(() => stopping !== null, logger);
      // A stop during the initial load must not be followed by timers it can no longer clear: they
      // would keep the process alive after 'stopped' (seen with SIGTERM just after a load finished).
      if (stopping !== null) return;
      retries = startLoadRetries({
        registry,
        refresher: backend.refresher,
        alerts,
        logger: logger.child({ component: 'retry' }),
        timings: config.loadRetry,
        lastError: (list) => backend.lastError(list),
        now,
      });
      figures.start();
      statsService.start(redisUp, 5000);
      freshness = startFreshnessMonitor(registry, alerts, now);
      if (config.clockDriftAlertMs > 0) clockDrift = mode.watchClock({ alerts, thresholdMs: config.clockDriftAlertMs, logger: logger.child({ component: 'clock' }), now });
      if (options.schedules !== false) schedules = startRefreshSchedules(registry, backend.refresher, logger.child({ component: 'schedule' }));
    });

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ connections: sockets.connectionCount }, 'stopping: draining connections');
      http.close();
      schedules?.stop();
      retries?.stop();
      freshness?.stop();
      clockDrift?.stop();
      statsService.stop();
      statsSockets.close();
      await sockets.drain(config.shutdownGraceMs);
      await figures.stop();
      await audit?.close();
      http.closeAllConnections();
      await backend.close();
      logger.info('stopped');
    })();
    return stopping;
  };

  return { port, registry, alerts, backend, stats: statsService, checkConnections: () => sockets.connections(), loaded, stop };
}

/** One reason /readyz gives for 503: a gate-side reason for checks to block. */
interface NotReadyReason {
  readonly code: string;
  readonly list?: string;
  readonly message: string;
  readonly nextRetryAt?: string;
}

interface ReadinessInput {
  readonly registry: ListRegistry;
  readonly backend: ListBackend;
  readonly alerts: AlertRegistry;
  readonly nextRefresh: Record<string, string | null>;
  readonly retries: LoadRetries | null;
  readonly warm: boolean;
  readonly now: number;
}

function readiness({ registry, backend, alerts, nextRefresh, retries, warm, now }: ReadinessInput): HttpReply {
  const snap = registry.current;
  const reasons: NotReadyReason[] = [];
  const lists = snap.slots.map((s) => {
    const name = s.spec.name;
    let reason: NotReadyReason | null = null;
    if (s.state === null) {
      const retry = retries?.status(name) ?? null;
      const lastError = backend.lastError(name);
      reason =
        retry !== null
          ? { code: retry.code, list: name, message: `list ${name} is not loaded: ${retry.message}`, nextRetryAt: retry.nextRetryAt }
          : { code: 'not_loaded', list: name, message: `list ${name} is not loaded${lastError === null ? '' : `: ${lastError}`}` };
    } else if (s.staleAt <= now) {
      reason = { code: 'stale_list', list: name, message: `list ${name} is stale since ${new Date(s.staleAt).toISOString()}: checks that consult it answer stale_list` };
    }
    if (reason !== null) reasons.push(reason);
    return {
      name,
      kind: s.spec.kind,
      loaded: s.state !== null,
      generation: s.state?.generation ?? null,
      count: s.state?.count ?? null,
      loadedAt: s.state?.loadedAt.toISOString() ?? null,
      sourceDate: s.state?.sourceDate?.toISOString() ?? null,
      lastError: backend.lastError(name),
      intradayAdditions: s.intraday.size,
      nextRefresh: nextRefresh[name] ?? null,
      reason,
    };
  });
  const missing = registry.missing();
  if (lists.length === 0) reasons.push({ code: 'no_lists', message: 'no list is current (Redis has none yet)' });
  // Hold ids are `<code>:<subject>`, like alert ids.
  for (const [id, why] of snap.holds) reasons.push({ code: id.split(':')[0] ?? id, message: why });
  if (!warm) reasons.push({ code: 'warming_up', message: 'loading the Redis scripts and running a first check' });
  // Redis being down does not make the sidecar unready: misses still answer, hits block as
  // `unconfirmed`; taking every sidecar out of rotation during a Redis blip would help nobody.
  const ready = reasons.length === 0;
  return { status: ready ? 200 : 503, body: { ready, mode: backend.mode, ...backend.describe(), lists, missing, reasons, alerts: alerts.active() } };
}
