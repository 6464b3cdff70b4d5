/**
 * HTTP on the same port as the check socket: a small route table for plain requests, and upgrades
 * routed by path to the WebSocket endpoints.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/logger.js';

export interface HttpReply {
  readonly status: number;
  readonly body: unknown;
  readonly contentType?: string;
  /** Extra headers (cache validators, security policy); `cache-control` here overrides the default no-store. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type RouteHandler = (req: IncomingMessage, url: URL) => HttpReply | Promise<HttpReply>;
/** A route that reads no URL (the check doors read the raw query themselves): its target is never parsed into one. */
export type PlainRouteHandler = (req: IncomingMessage) => HttpReply | Promise<HttpReply>;
/** `url` is the request target already parsed (never throws): handlers need not parse it again. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;

/**
 * Runs before every route and upgrade (server/site-guard.ts: Host, Origin, Sec-Fetch-Site): an HttpError
 * refuses the request with its status and code.
 */
export type RequestGuard = (req: IncomingMessage, pathname: string, upgrade: boolean) => HttpError | null;

export interface HttpRoutes {
  /** Keyed by "METHOD /path". */
  readonly routes: ReadonlyMap<string, RouteHandler>;
  /** Keyed by "METHOD /path" too: routes answered without a URL object (looked up first). */
  readonly plain?: ReadonlyMap<string, PlainRouteHandler>;
  /** Keyed by path. */
  readonly upgrades: ReadonlyMap<string, UpgradeHandler>;
  readonly guard?: RequestGuard;
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

const BASE = 'http://localhost';
const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const SPACE = 0x20;

/**
 * The request target as a URL, or null when the URL parser refuses it (`//[/`, an absolute form with
 * a bad port): `new URL` throws on those, and one such request used to kill the process (issue 12).
 */
export function parseTarget(target: string | undefined): URL | null {
  const t = target ?? '/';
  // The origin form every HTTP client sends, `/path?query` (one slash, then neither a second slash nor a
  // backslash nor whitespace, which the parser drops and which could make it read an authority): the URL
  // parser's path state, which never fails, so it is parsed once and not checked first (per check, the
  // check cost as much as the parse). The catch is the issue-12 guard, kept whatever the reading.
  if (t.charCodeAt(0) === SLASH && t.length > 1) {
    const c = t.charCodeAt(1);
    if (c > SPACE && c !== SLASH && c !== BACKSLASH) {
      try {
        return new URL(t, BASE);
      } catch {
        return null;
      }
    }
  }
  // Anything else: canParse first, since a refused target is common under a scanner, and a throw costs a stack trace.
  return URL.canParse(t, BASE) ? new URL(t, BASE) : null;
}

/**
 * Whether the URL parser leaves a path character exactly as written: letters, digits, `/`, `-`, `_`, `~`.
 * Everything else (`.`, which may make a dot segment, `%`, `\\`, whitespace, controls, non-ASCII, …) may be
 * rewritten, so a path holding one is parsed.
 */
function keptAsWritten(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === SLASH || c === 0x2d || c === 0x5f || c === 0x7e;
}

/**
 * The pathname of an origin-form target whose path the URL parser keeps as written (`/v1/check?…`, what
 * every dialer sends): the path itself, read without a URL object (per check, the parse cost as much as the
 * query's). null for any other target: the caller parses it (parseTarget). A second leading `/` would start
 * an authority; the query and fragment never change the path.
 */
export function plainPathname(target: string): string | null {
  const n = target.length;
  if (n === 0 || target.charCodeAt(0) !== SLASH) return null;
  let i = 1;
  for (; i < n; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) break;
    if (!keptAsWritten(c) || (c === SLASH && i === 1)) return null;
  }
  return i === n ? target : target.slice(0, i);
}

function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`;
}

/** Refuses an upgrade on the raw socket (no HTTP response object exists for an upgrade). */
export function refuseUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`${statusLine(status)}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

function write(res: ServerResponse, reply: HttpReply): void {
  const body = typeof reply.body === 'string' || Buffer.isBuffer(reply.body) ? reply.body : JSON.stringify(reply.body);
  // 304 Not Modified carries no body. A Content-Length (not chunked): plain HTTP clients in dialplans read it simply.
  const sent = reply.status === 304 ? undefined : body;
  // A flat name/value list, in the order (and with the overrides) of the object spread it replaces:
  // content-type, cache-control, content-length, then the reply's own, one of which may replace an earlier value.
  const type = reply.contentType ?? 'application/json; charset=utf-8';
  const list: string[] = sent === undefined ? ['content-type', type, 'cache-control', 'no-store'] : ['content-type', type, 'cache-control', 'no-store', 'content-length', String(Buffer.byteLength(sent))];
  const extra = reply.headers;
  if (extra !== undefined) {
    for (const name in extra) {
      const value = extra[name] as string;
      const at = name === 'content-type' ? 1 : name === 'cache-control' ? 3 : name === 'content-length' && sent !== undefined ? 5 : -1;
      if (at < 0) list.push(name, value);
      else list[at] = value;
    }
  }
  res.writeHead(reply.status, list);
  res.end(sent);
}

export interface HttpServerLimits {
  /** TCP connections at most, every kind; Node closes further ones at once (config maxSockets). */
  readonly maxSockets: number;
}

/** A client has this long to send its request headers (Node's default is 60 s: a slow-loris holds a socket that long). */
const HEADERS_TIMEOUT_MS = 10_000;
/** A whole request (a batch body) within this (Node's default is 300 s). */
const REQUEST_TIMEOUT_MS = 30_000;
/** Dropped connections are logged at most once per this period, with their count. */
const DROP_LOG_PERIOD_MS = 60_000;

export function createHttpServer(routes: HttpRoutes, limits: HttpServerLimits, logger: Logger): Server {
  const failed = (res: ServerResponse, path: string, err: unknown): void => {
    if (err instanceof HttpError) {
      write(res, { status: err.status, body: { error: { code: err.code, message: err.message } } });
      return;
    }
    logger.error({ err, path }, 'http handler failed');
    if (!res.headersSent) write(res, { status: 500, body: { error: { code: 'internal', message: 'internal error' } } });
    else res.destroy();
  };
  const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    const target = req.url ?? '/';
    // A target whose path needs no parsing (every dialer's) is parsed into a URL only for a route that reads one.
    let url: URL | null = null;
    let pathname = plainPathname(target);
    if (pathname === null) {
      url = parseTarget(target);
      if (url === null) {
        write(res, { status: 400, body: { error: { code: 'bad_request', message: 'request target is not a valid URL' } } });
        return;
      }
      pathname = url.pathname;
    }
    const refused = routes.guard?.(req, pathname, false) ?? null;
    if (refused !== null) {
      write(res, { status: refused.status, body: { error: { code: refused.code, message: refused.message } } });
      return;
    }
    const key = `${req.method ?? 'GET'} ${pathname}`;
    const plain = routes.plain?.get(key);
    const handler = plain === undefined ? routes.routes.get(key) : undefined;
    if (plain === undefined && handler === undefined) {
      write(res, { status: 404, body: { error: { code: 'not_found', message: `no route ${req.method} ${pathname}` } } });
      return;
    }
    let reply: HttpReply | Promise<HttpReply>;
    try {
      if (plain !== undefined) reply = plain(req);
      else {
        // The plain reading and the parser's agree on the path (test/unit/server/parse-target.test.ts): this never fails.
        url ??= parseTarget(target);
        if (url === null || handler === undefined) throw new Error(`request target ${JSON.stringify(target.slice(0, 100))} could not be parsed twice alike`);
        reply = handler(req, url);
      }
    } catch (err) {
      failed(res, pathname, err);
      return;
    }
    // A synchronous reply (a check answered by a Bloom miss) is written at once, not two promise hops later,
    // and allocates no closure.
    if (reply instanceof Promise) {
      const path = pathname;
      reply.then(
        (r) => write(res, r),
        (err: unknown) => failed(res, path, err),
      );
    } else write(res, reply);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Until `ws` takes the socket over, nothing else listens for its errors: a peer reset here
    // would otherwise be an uncaught 'error' event.
    const onError = (err: Error): void => {
      logger.debug({ err }, 'upgrade socket error');
      socket.destroy();
    };
    socket.on('error', onError);
    const url = parseTarget(req.url);
    if (url === null) {
      refuseUpgrade(socket, 400, 'bad_request', 'request target is not a valid URL');
      return;
    }
    const handler = routes.upgrades.get(url.pathname);
    if (handler === undefined) {
      refuseUpgrade(socket, 404, 'not_found', `no WebSocket endpoint ${url.pathname}`);
      return;
    }
    const refused = routes.guard?.(req, url.pathname, true) ?? null;
    if (refused !== null) {
      refuseUpgrade(socket, refused.status, refused.code, refused.message);
      return;
    }
    try {
      handler(req, socket, head, url);
    } catch (err) {
      logger.error({ err, path: url.pathname }, 'upgrade handler failed');
      socket.destroy();
    }
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    logger.debug({ err }, 'http client error');
    // A request the HTTP parser refuses gets a 400 when the socket can still carry one (Node's advice).
    if (err.code !== 'ECONNRESET' && socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  // Past the cap Node closes a new connection before any byte is read ('drop'); live ones are untouched.
  server.maxConnections = limits.maxSockets;
  let dropped = 0;
  let lastDropLog = 0;
  server.on('drop', () => {
    dropped++;
    const t = Date.now();
    if (t - lastDropLog >= DROP_LOG_PERIOD_MS) {
      lastDropLog = t;
      logger.warn({ dropped, maxSockets: limits.maxSockets }, 'connections over --max-sockets closed at once');
    }
  });
  return server;
}
