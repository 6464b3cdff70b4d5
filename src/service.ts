/**
 * Wires one running callgate: list registry + backend (embedded or Redis) → checker → check socket
 * and HTTP routes on one port. The server listens at once; until every list is loaded, /readyz
 * says 503 and checks answer `block` / `not_ready`.
 */
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Checker } from './check.js';
import type { ServeConfig } from './config.js';
import { createHttpServer, type HttpReply, type RouteHandler, type UpgradeHandler } from './http-server.js';
import type { ListBackend } from './list-backend.js';
import { ListRegistry } from './list-state.js';
import type { Logger } from './logger.js';
import { encodeBatchReply, encodeCheckReply, type Request } from './protocol.js';
import { CheckSocketServer } from './ws-server.js';

export interface RunningService {
  readonly port: number;
  readonly registry: ListRegistry;
  /** Settles when the initial load of every list has been attempted (not necessarily succeeded). */
  readonly loaded: Promise<void>;
  stop(): Promise<void>;
}

export type BackendFactory = (registry: ListRegistry) => ListBackend;

export async function startService(config: ServeConfig, logger: Logger, makeBackend: BackendFactory): Promise<RunningService> {
  const registry = new ListRegistry(config.lists);
  const backend = makeBackend(registry);
  const checker = new Checker(registry, backend.remote);

  const handle = (request: Request): string | Promise<string> => {
    switch (request.op) {
      case 'check': {
        const r = checker.check(request.number);
        return 'then' in r ? r.then((res) => encodeCheckReply(request.id, res)) : encodeCheckReply(request.id, r);
      }
      case 'batch':
        return checker.checkBatch(request.numbers, config.batchSliceSize).then((res) => encodeBatchReply(request.id, res));
      default: {
        const never: never = request;
        throw new Error(`unhandled op ${JSON.stringify(never)}`);
      }
    }
  };

  const sockets = new CheckSocketServer({
    maxPayloadBytes: config.maxPayloadBytes,
    maxInFlight: config.maxInFlight,
    limits: { maxBatchSize: config.maxBatchSize },
    logger: logger.child({ component: 'ws' }),
    handle,
  });

  const routes = new Map<string, RouteHandler>([
    ['GET /healthz', (): HttpReply => ({ status: 200, body: { status: 'ok' } })],
    ['GET /readyz', (): HttpReply => readiness(registry, backend)],
  ]);
  const upgrades = new Map<string, UpgradeHandler>([
    ['/', (req: IncomingMessage, socket: Duplex, head: Buffer) => sockets.handleUpgrade(req, socket, head)],
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

  const loaded = backend.start().catch((err: unknown) => {
    logger.error({ err }, 'initial list load failed');
  });

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ connections: sockets.connectionCount }, 'stopping: draining connections');
      http.close();
      await sockets.drain(config.shutdownGraceMs);
      http.closeAllConnections();
      await backend.close();
      logger.info('stopped');
    })();
    return stopping;
  };

  return { port, registry, loaded, stop };
}

function readiness(registry: ListRegistry, backend: ListBackend): HttpReply {
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
  }));
  const missing = registry.missing();
  const reasons: string[] = [];
  if (lists.length === 0) reasons.push('no list is current (Redis has none yet)');
  for (const name of missing) reasons.push(`list ${name} is not loaded`);
  // Redis being down does not make the sidecar unready: misses still answer, hits block as
  // `unconfirmed`; taking every sidecar out of rotation during a Redis blip would help nobody.
  return { status: snap.ready ? 200 : 503, body: { ready: snap.ready, mode: backend.mode, ...backend.describe(), lists, missing, reasons } };
}
