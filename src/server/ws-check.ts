/**
 * The check sockets. Accepts them (through ws-accept.ts, the one importer of `ws`), decodes frames, hands
 * requests to a handler and sends its replies, in whatever order they complete. Memory per
 * connection is bounded: the socket stops being read (TCP backpressure reaches the dialer) while
 * `maxInFlight` requests or `maxInFlightBytes` of request frames are in flight, or while unsent
 * replies pass a high-water mark, and it is read again only when all three are low — one settled
 * reply of any kind never resumes it alone (issue 12 item 2: a client that sent batches and never
 * read made the server read 42 MiB). Connections are capped, and idle ones pinged; dead ones dropped.
 */
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/logger.js';
import { refuseUpgrade } from './http-server.js';
import { decodeRequest, encodeErrorReply, type ProtocolLimits, type Request } from '../check/protocol.js';
import { createSocketAcceptor, rawToString, send, type FramePayload, type ServerSocket, type SocketAcceptor } from './ws-accept.js';

/** Answers one decoded request with an encoded reply frame. Must not throw or reject. */
export type RequestHandler = (request: Request) => string | Promise<string>;

export interface CheckSocketOptions {
  readonly maxPayloadBytes: number;
  readonly maxInFlight: number;
  /** Bytes of request frames in flight per connection before reading pauses. */
  readonly maxInFlightBytes: number;
  /** Open check sockets at most; further upgrades get a 503. */
  readonly maxConnections: number;
  /** Every this many ms a socket silent since the last ping is pinged, and dropped if it never answered; 0: off. */
  readonly pingIntervalMs: number;
  readonly limits: ProtocolLimits;
  readonly logger: Logger;
  readonly handle: RequestHandler;
}

/** Unsent reply bytes past which a connection is not read; it is read again below a quarter of it. */
export const SEND_HIGH_WATER_BYTES = 4 * 1024 * 1024;

/** A connection's counters, for tests and supervision. */
export interface ConnectionCounters {
  readonly id: number;
  /** Bytes read from the TCP socket (frames and handshake). */
  readonly bytesRead: number;
  readonly paused: boolean;
  readonly inFlight: number;
  readonly inFlightBytes: number;
  /** Reply bytes not yet handed to the kernel. */
  readonly bufferedBytes: number;
}

interface ConnectionState {
  readonly id: number;
  /** The TCP socket under the WebSocket: replies of one event-loop turn are corked into one write. */
  readonly tcp: Duplex;
  corked: boolean;
  inFlight: number;
  inFlightBytes: number;
  /** Seen a pong or a frame since the last ping. */
  alive: boolean;
  requests: number;
  errors: number;
  readonly openedAt: number;
}

export class CheckSocketServer {
  readonly #wss: SocketAcceptor;
  readonly #options: CheckSocketOptions;
  readonly #connections = new Map<ServerSocket, ConnectionState>();
  #nextId = 1;
  #accepting = true;
  #idleWaiters: (() => void)[] = [];
  /** Upgrades under way: counted against the cap before their socket opens. */
  #opening = 0;
  readonly #pinger: NodeJS.Timeout | null;

  constructor(options: CheckSocketOptions) {
    this.#options = options;
    this.#pinger = options.pingIntervalMs > 0 ? setInterval(() => this.#ping(), options.pingIntervalMs) : null;
    this.#pinger?.unref();
    // The HTTP server routes upgrades by path (ws-accept.ts: no server of its own, no compression).
    this.#wss = createSocketAcceptor(options.maxPayloadBytes, (ws: ServerSocket, req: IncomingMessage) => this.#onConnection(ws, req));
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  connections(): ConnectionCounters[] {
    return [...this.#connections].map(([ws, s]) => ({
      id: s.id,
      bytesRead: s.tcp instanceof Socket ? s.tcp.bytesRead : 0,
      paused: ws.isPaused,
      inFlight: s.inFlight,
      inFlightBytes: s.inFlightBytes,
      bufferedBytes: ws.bufferedAmount,
    }));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!this.#accepting) {
      refuseUpgrade(socket, 503, 'shutting_down', 'server shutting down');
      return;
    }
    if (this.#connections.size + this.#opening >= this.#options.maxConnections) {
      refuseUpgrade(socket, 503, 'too_many_connections', `at most ${this.#options.maxConnections} check connections (--max-connections)`);
      return;
    }
    this.#opening++;
    let settled = false;
    const settle = (): void => {
      if (!settled) this.#opening--;
      settled = true;
    };
    // A handshake that fails (bad key, closed socket) never calls back: count it out on close.
    socket.once('close', settle);
    this.#wss.handleUpgrade(req, socket, head, settle);
  }

  /** Pings every socket; one that answered nothing (no pong, no frame) since the last ping is dead. */
  #ping(): void {
    for (const [ws, state] of this.#connections) {
      if (!state.alive) {
        this.#options.logger.info({ conn: state.id }, 'connection dropped: no answer to ping');
        ws.terminate();
        continue;
      }
      state.alive = false;
      if (ws.readyState === ws.OPEN) ws.ping();
    }
  }

  #onConnection(ws: ServerSocket, req: IncomingMessage): void {
    const state: ConnectionState = { id: this.#nextId++, tcp: req.socket, corked: false, inFlight: 0, inFlightBytes: 0, alive: true, requests: 0, errors: 0, openedAt: Date.now() };
    this.#connections.set(ws, state);
    const log = this.#options.logger;
    log.info({ conn: state.id, remote: req.socket.remoteAddress }, 'connection opened');
    ws.on('pong', () => {
      state.alive = true;
    });
    // Replies drained to the kernel: reading may resume.
    state.tcp.on('drain', () => this.#maybeResume(ws, state));
    ws.on('message', (data: FramePayload, isBinary: boolean) => this.#onMessage(ws, state, data, isBinary));
    ws.on('error', (err: Error) => log.warn({ conn: state.id, err }, 'connection error'));
    ws.on('close', (code: number) => {
      this.#connections.delete(ws);
      log.info({ conn: state.id, code, requests: state.requests, errors: state.errors, durationMs: Date.now() - state.openedAt }, 'connection closed');
      this.#notifyIfIdle();
    });
  }

  #onMessage(ws: ServerSocket, state: ConnectionState, data: FramePayload, isBinary: boolean): void {
    state.requests++;
    state.alive = true;
    if (isBinary) {
      state.errors++;
      this.#reply(ws, state, encodeErrorReply(null, 'bad_request', 'binary frames are not accepted; send JSON text frames'));
      return;
    }
    const text = rawToString(data);
    const decoded = decodeRequest(text, this.#options.limits);
    if (!decoded.ok) {
      state.errors++;
      this.#reply(ws, state, encodeErrorReply(decoded.id, 'bad_request', decoded.message));
      return;
    }
    let reply: string | Promise<string>;
    try {
      reply = this.#options.handle(decoded.request);
    } catch (err) {
      // A handler bug must not kill the socket; the dialer gets an error and treats it as no answer.
      this.#options.logger.error({ conn: state.id, err }, 'check failed');
      this.#reply(ws, state, encodeErrorReply(decoded.request.id, 'internal', 'internal error'));
      return;
    }
    if (typeof reply === 'string') {
      this.#reply(ws, state, reply);
      return;
    }
    // A frame's text length stands for its weight: the request, then its results, live until it settles.
    const weight = text.length;
    state.inFlight++;
    state.inFlightBytes += weight;
    this.#throttle(ws, state);
    // One reaction per reply, its release in `finally` blocks: a `.finally()` after the `.then()` cost two more
    // promises per check (issue 17).
    const release = (): void => {
      state.inFlight--;
      state.inFlightBytes -= weight;
      this.#maybeResume(ws, state);
      this.#notifyIfIdle();
    };
    void reply.then(
      (frame) => {
        try {
          this.#reply(ws, state, frame);
        } finally {
          release();
        }
      },
      (err: unknown) => {
        try {
          this.#options.logger.error({ conn: state.id, err }, 'check failed');
          this.#reply(ws, state, encodeErrorReply(decoded.request.id, 'internal', 'internal error'));
        } finally {
          release();
        }
      },
    );
  }

  /** Stops reading a connection that holds too much: requests in flight, their bytes, or unsent replies. */
  #throttle(ws: ServerSocket, state: ConnectionState): void {
    if (ws.isPaused) return;
    const o = this.#options;
    if (state.inFlight >= o.maxInFlight || state.inFlightBytes >= o.maxInFlightBytes || ws.bufferedAmount > SEND_HIGH_WATER_BYTES) ws.pause();
  }

  /** Reads a paused connection again only when every bound is well below its limit (hysteresis). */
  #maybeResume(ws: ServerSocket, state: ConnectionState): void {
    if (!ws.isPaused || !this.#accepting || ws.readyState !== ws.OPEN) return;
    const o = this.#options;
    if (state.inFlight > o.maxInFlight >> 1 || state.inFlightBytes > o.maxInFlightBytes / 2 || ws.bufferedAmount > SEND_HIGH_WATER_BYTES >> 2) return;
    ws.resume();
  }

  /**
   * Sends a reply; a peer that stops reading its replies is paused too, so unread replies cannot
   * pile up in memory (the TCP socket's 'drain' resumes it).
   */
  #reply(ws: ServerSocket, state: ConnectionState, frame: string): void {
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
    this.#throttle(ws, state);
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
    if (this.#pinger !== null) clearInterval(this.#pinger);
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
    await this.#wss.close();
  }
}
