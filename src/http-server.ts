/**
 * HTTP on the same port as the check socket: a small route table for plain requests, and upgrades
 * routed by path to the WebSocket endpoints.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from './logger.js';

export interface HttpReply {
  readonly status: number;
  readonly body: unknown;
  readonly contentType?: string;
}

export type RouteHandler = (req: IncomingMessage, url: URL) => HttpReply | Promise<HttpReply>;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface HttpRoutes {
  /** Keyed by "METHOD /path". */
  readonly routes: ReadonlyMap<string, RouteHandler>;
  /** Keyed by path. */
  readonly upgrades: ReadonlyMap<string, UpgradeHandler>;
}

function write(res: ServerResponse, reply: HttpReply): void {
  const body = typeof reply.body === 'string' || Buffer.isBuffer(reply.body) ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': reply.contentType ?? 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(body);
}

export function createHttpServer(routes: HttpRoutes, logger: Logger): Server {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const handler = routes.routes.get(`${req.method ?? 'GET'} ${url.pathname}`);
    if (handler === undefined) {
      write(res, { status: 404, body: { error: { code: 'not_found', message: `no route ${req.method} ${url.pathname}` } } });
      return;
    }
    Promise.resolve()
      .then(() => handler(req, url))
      .then(
        (reply) => write(res, reply),
        (err: unknown) => {
          logger.error({ err, path: url.pathname }, 'http handler failed');
          if (!res.headersSent) write(res, { status: 500, body: { error: { code: 'internal', message: 'internal error' } } });
          else res.destroy();
        },
      );
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const handler = routes.upgrades.get(path);
    if (handler === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    handler(req, socket, head);
  });
  server.on('clientError', (err, socket) => {
    logger.debug({ err }, 'http client error');
    socket.destroy();
  });
  return server;
}
