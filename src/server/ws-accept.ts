/**
 * The one place `ws` is imported on the server side: it creates the WebSocket servers (no HTTP server of
 * their own: http-server.ts routes upgrades by path), completes upgrades, and gives the check sockets
 * (ws-check.ts) and the /stats feed (ws-stats.ts) the socket type and the two frame helpers they share.
 * A dependency wrapped once can be upgraded or replaced in one file.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';

/** An accepted server-side socket. */
export type ServerSocket = WebSocket;
/** A received frame's payload, as `ws` hands it over. */
export type FramePayload = RawData;

export interface SocketAcceptor {
  /** Completes an upgrade; `onUpgraded` runs first, then the acceptor's connection handler. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, onUpgraded?: () => void): void;
  /** Stops the server (the sockets it accepted are their owner's to close). */
  close(): Promise<void>;
}

/**
 * A server with no port of its own. perMessageDeflate off: frames are tiny and compression costs more CPU
 * than it saves on loopback.
 */
export function createSocketAcceptor(maxPayloadBytes: number, onConnection: (ws: ServerSocket, req: IncomingMessage) => void): SocketAcceptor {
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPayloadBytes, perMessageDeflate: false });
  wss.on('connection', onConnection);
  return {
    handleUpgrade(req, socket, head, onUpgraded) {
      wss.handleUpgrade(req, socket, head, (ws) => {
        onUpgraded?.();
        wss.emit('connection', ws, req);
      });
    },
    close: () => new Promise<void>((resolve) => wss.close(() => resolve())),
  };
}

export function send(ws: ServerSocket, frame: string): void {
  // A reply for a socket that closed meanwhile has nowhere to go.
  if (ws.readyState === ws.OPEN) ws.send(frame);
}

export function rawToString(data: FramePayload): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
