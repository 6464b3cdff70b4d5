/**
 * The one place `ws` is imported on the server side. Accepts check sockets, decodes frames, hands
 * requests to a handler and sends its replies, in whatever order they complete. Per connection, at
 * most `maxInFlight` requests are in flight: past that the socket stops being read (TCP backpressure
 * reaches the dialer) instead of memory growing without bound.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { Logger } from './logger.js';
import { decodeRequest, encodeErrorReply, type ProtocolLimits, type Request } from './protocol.js';

/** Answers one decoded request with an encoded reply frame. Must not throw or reject. */
export type RequestHandler = (request: Request) => string | Promise<string>;

export interface CheckSocketOptions {
  readonly maxPayloadBytes: number;
  readonly maxInFlight: number;
  readonly limits: ProtocolLimits;
  readonly logger: Logger;
  readonly handle: RequestHandler;
}

const SEND_HIGH_WATER_BYTES = 4 * 1024 * 1024;

interface ConnectionState {
  readonly id: number;
  /** The TCP socket under the WebSocket: replies of one event-loop turn are corked into one write. */
  readonly tcp: Duplex;
  corked: boolean;
  inFlight: number;
  requests: number;
  errors: number;
  readonly openedAt: number;
}

export class CheckSocketServer {
  readonly #wss: WebSocketServer;
  readonly #options: CheckSocketOptions;
  readonly #connections = new Map<WebSocket, ConnectionState>();
  #nextId = 1;
  #accepting = true;
  #idleWaiters: (() => void)[] = [];

  constructor(options: CheckSocketOptions) {
    this.#options = options;
    // noServer: the HTTP server routes upgrades by path. perMessageDeflate off: frames are tiny and
    // compression costs more CPU than it saves on loopback.
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes, perMessageDeflate: false });
    this.#wss.on('connection', (ws: WebSocket, req: IncomingMessage) => this.#onConnection(ws, req));
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!this.#accepting) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit('connection', ws, req));
  }

  #onConnection(ws: WebSocket, req: IncomingMessage): void {
    const state: ConnectionState = { id: this.#nextId++, tcp: req.socket, corked: false, inFlight: 0, requests: 0, errors: 0, openedAt: Date.now() };
    this.#connections.set(ws, state);
    const log = this.#options.logger;
    log.info({ conn: state.id, remote: req.socket.remoteAddress }, 'connection opened');
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onMessage(ws, state, data, isBinary));
    ws.on('error', (err: Error) => log.warn({ conn: state.id, err }, 'connection error'));
    ws.on('close', (code: number) => {
      this.#connections.delete(ws);
      log.info({ conn: state.id, code, requests: state.requests, errors: state.errors, durationMs: Date.now() - state.openedAt }, 'connection closed');
      this.#notifyIfIdle();
    });
  }

  #onMessage(ws: WebSocket, state: ConnectionState, data: RawData, isBinary: boolean): void {
    state.requests++;
    if (isBinary) {
      state.errors++;
      send(ws, encodeErrorReply(null, 'bad_request', 'binary frames are not accepted; send JSON text frames'));
      return;
    }
    const decoded = decodeRequest(rawToString(data), this.#options.limits);
    if (!decoded.ok) {
      state.errors++;
      send(ws, encodeErrorReply(decoded.id, 'bad_request', decoded.message));
      return;
    }
    let reply: string | Promise<string>;
    try {
      reply = this.#options.handle(decoded.request);
    } catch (err) {
      // A handler bug must not kill the socket; the dialer gets an error and treats it as no answer.
      this.#options.logger.error({ conn: state.id, err }, 'check failed');
      send(ws, encodeErrorReply(decoded.request.id, 'internal', 'internal error'));
      return;
    }
    if (typeof reply === 'string') {
      this.#reply(ws, state, reply);
      return;
    }
    state.inFlight++;
    if (state.inFlight >= this.#options.maxInFlight && !ws.isPaused) ws.pause();
    reply.then(
      (frame) => this.#reply(ws, state, frame),
      (err: unknown) => {
        this.#options.logger.error({ conn: state.id, err }, 'check failed');
        send(ws, encodeErrorReply(decoded.request.id, 'internal', 'internal error'));
      },
    ).finally(() => {
      state.inFlight--;
      if (ws.isPaused && this.#accepting && state.inFlight <= this.#options.maxInFlight >> 1) ws.resume();
      this.#notifyIfIdle();
    });
  }

  /**
   * Sends a reply; a peer that stops reading its replies is paused too, so unread replies cannot
   * pile up in memory (checks answered synchronously never count as in flight).
   */
  #reply(ws: WebSocket, state: ConnectionState, frame: string): void {
    // A dialer with many checks in flight gets its replies in one TCP write per event-loop turn
    // instead of one system call each (measured: writev was most of the CPU under load).
    if (!state.corked) {
      state.corked = true;
      state.tcp.cork();
      process.nextTick(() => {
        state.corked = false;
        state.tcp.uncork();
      });
    }
    send(ws, frame);
    if (ws.bufferedAmount > SEND_HIGH_WATER_BYTES && !ws.isPaused) {
      ws.pause();
      const poll = (): void => {
        if (ws.readyState !== ws.OPEN) return;
        if (ws.bufferedAmount > SEND_HIGH_WATER_BYTES >> 2) setTimeout(poll, 5).unref();
        else if (this.#accepting) ws.resume();
      };
      setTimeout(poll, 5).unref();
    }
  }

  #inFlight(): number {
    let n = 0;
    for (const s of this.#connections.values()) n += s.inFlight;
    return n;
  }

  #notifyIfIdle(): void {
    if (this.#idleWaiters.length === 0 || this.#inFlight() > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Graceful stop: refuse new sockets, stop reading new frames, answer what is in flight (up to
   * `graceMs`), then close every socket with 1001 (going away).
   */
  async drain(graceMs: number): Promise<void> {
    this.#accepting = false;
    for (const ws of this.#connections.keys()) ws.pause();
    if (this.#inFlight() > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        timer.unref();
        this.#idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const closing = [...this.#connections.keys()].map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close(1001, 'server shutting down');
          // A peer that never answers the close handshake must not hold the process.
          setTimeout(() => {
            ws.terminate();
            resolve();
          }, 2000).unref();
        }),
    );
    await Promise.all(closing);
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}

function send(ws: WebSocket, frame: string): void {
  // A reply for a socket that closed meanwhile has nowhere to go.
  if (ws.readyState === ws.OPEN) ws.send(frame);
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/**
 * The supervisor's live feed: a WebSocket (path /stats) that receives the stats view every second.
 * Read-only: frames from clients are ignored.
 */
export class StatsSocketServer {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 1024, perMessageDeflate: false });
  readonly #clients = new Set<WebSocket>();
  #timer: NodeJS.Timeout | null = null;

  constructor(produce: () => Promise<unknown>, logger: Logger, everyMs = 1000) {
    this.#wss.on('connection', (ws: WebSocket) => {
      this.#clients.add(ws);
      ws.on('close', () => this.#clients.delete(ws));
      ws.on('error', (err: Error) => logger.debug({ err }, 'stats socket error'));
      produce().then((v) => send(ws, JSON.stringify(v)), (err: unknown) => logger.warn({ err }, 'stats view failed'));
    });
    this.#timer = setInterval(() => {
      if (this.#clients.size === 0) return;
      produce().then(
        (v) => {
          const frame = JSON.stringify(v);
          for (const ws of this.#clients) send(ws, frame);
        },
        (err: unknown) => logger.warn({ err }, 'stats view failed'),
      );
    }, everyMs);
    this.#timer.unref();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit('connection', ws, req));
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    for (const ws of this.#clients) ws.close(1001, 'server shutting down');
    this.#wss.close();
  }
}
