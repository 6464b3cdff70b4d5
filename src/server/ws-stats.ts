/**
 * The supervisor's live feed: a WebSocket (path /stats) that receives the stats view every second.
 * Read-only: frames from clients are ignored. A screen that stops reading is skipped, not queued for.
 * Apart from the check sockets (ws-check.ts): other clients, other limits, no request path.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/logger.js';
import { refuseUpgrade } from './http-server.js';
import { createSocketAcceptor, send, type ServerSocket, type SocketAcceptor } from './ws-accept.js';

/** A /stats client with this much unsent is not read, so it is skipped until it catches up. */
const STATS_SKIP_BYTES = 256 * 1024;

export class StatsSocketServer {
  readonly #wss: SocketAcceptor;
  readonly #clients = new Set<ServerSocket>();
  #timer: NodeJS.Timeout | null = null;

  readonly #maxClients: number;

  constructor(produce: () => Promise<unknown>, logger: Logger, everyMs = 1000, maxClients = 256) {
    this.#maxClients = maxClients;
    this.#wss = createSocketAcceptor(1024, (ws: ServerSocket) => {
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
          for (const ws of this.#clients) if (ws.bufferedAmount < STATS_SKIP_BYTES) send(ws, frame);
        },
        (err: unknown) => logger.warn({ err }, 'stats view failed'),
      );
    }, everyMs);
    this.#timer.unref();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#clients.size >= this.#maxClients) {
      refuseUpgrade(socket, 503, 'too_many_connections', `at most ${this.#maxClients} /stats connections (--max-connections)`);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head);
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    for (const ws of this.#clients) ws.close(1001, 'server shutting down');
    void this.#wss.close();
  }
}
