/**
 * Supervision over HTTP: GET /metrics (Prometheus), GET /api/stats, the /stats socket and the
 * dashboard. Stats, socket and dashboard can require a read-only token (`?token=` — a wall screen
 * cannot send headers — or `Authorization: Bearer`); none of them ever shows a phone number.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { sameSecret } from '../admin/auth.js';
import { HttpError, refuseUpgrade, type HttpReply, type RouteHandler, type UpgradeHandler } from '../server/http-server.js';
import type { StatsService } from './stats-service.js';


/** Whether a request may read supervision data: no token configured, or the read or admin token given. */
export function mayRead(req: IncomingMessage, url: URL, statsToken: string | null, adminToken: string | null): boolean {
  if (statsToken === null) return true;
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
  const given = url.searchParams.get('token') ?? bearer ?? null;
  if (given === null) return false;
  return sameSecret(given, statsToken) || (adminToken !== null && sameSecret(given, adminToken));
}

/** What /metrics needs of the registry (supervision/metrics.ts wraps prom-client). */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export function statsRoutes(deps: { stats: StatsService; metrics: MetricsSource | null; statsToken: string | null; adminToken: string | null }): Map<string, RouteHandler> {
  const guard = (req: IncomingMessage, url: URL): void => {
    if (!mayRead(req, url, deps.statsToken, deps.adminToken)) throw new HttpError(401, 'unauthorized', 'a read-only token is required: ?token=… or Authorization: Bearer …');
  };
  const routes = new Map<string, RouteHandler>([
    [
      'GET /api/stats',
      async (req, url): Promise<HttpReply> => {
        guard(req, url);
        return { status: 200, body: await deps.stats.view() };
      },
    ],
  ]);
  const metrics = deps.metrics;
  if (metrics !== null) {
    // Like most exporters, /metrics is not behind the read token: it holds counts, never numbers.
    routes.set('GET /metrics', async (): Promise<HttpReply> => ({ status: 200, body: await metrics.metrics(), contentType: metrics.contentType }));
  }
  return routes;
}

/** Upgrade handler for /stats with the same read check. */
export function statsUpgrade(
  statsToken: string | null,
  adminToken: string | null,
  accept: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
): UpgradeHandler {
  return (req, socket, head, url) => {
    if (!mayRead(req, url, statsToken, adminToken)) {
      refuseUpgrade(socket, 401, 'unauthorized', 'a read-only token is required: ?token=… or Authorization: Bearer …');
      return;
    }
    accept(req, socket, head);
  };
}
