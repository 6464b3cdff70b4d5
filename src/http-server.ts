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
  /** Extra headers (cache validators, security policy); `cache-control` here overrides the default no-store. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type RouteHandler = (req: IncomingMessage, url: URL) => HttpReply | Promise<HttpReply>;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface HttpRoutes {
  /** Keyed by "METHOD /path". */
  readonly routes: ReadonlyMap<string, RouteHandler>;
  /** Keyed by path. */
  readonly upgrades: ReadonlyMap<string, UpgradeHandler>;
}

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Reads a JSON request body of at most `limitBytes`; an empty body is `{}`. */
export async function readJsonBody(req: IncomingMessage, limitBytes = 1024 * 1024): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new HttpError(413, 'bad_request', `request body over ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad_request', 'request body is not valid JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, 'bad_request', 'request body must be a JSON object');
  return v as Record<string, unknown>;
}

function write(res: ServerResponse, reply: HttpReply): void {
  const body = typeof reply.body === 'string' || Buffer.isBuffer(reply.body) ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': reply.contentType ?? 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...reply.headers,
  });
  // 304 Not Modified carries no body.
  res.end(reply.status === 304 ? undefined : body);
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
          if (err instanceof HttpError) {
            write(res, { status: err.status, body: { error: { code: err.code, message: err.message } } });
            return;
          }
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
