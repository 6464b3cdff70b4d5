/**
 * The one place the client imports `ws` (Node 20 has no stable WebSocket of its own): opens one
 * connection and hands the client text frames and lifecycle events. The client never sees a `ws` type,
 * so the dependency can be swapped here alone.
 */
import type { Socket } from 'node:net';
import { WebSocket, type RawData } from 'ws';

export interface SocketOptions {
  /** The opening handshake fails after this long (a gate that accepts TCP but never answers: hung). */
  readonly handshakeTimeoutMs: number;
  /** Largest reply frame accepted (a big batch's reply); a larger one closes the connection. */
  readonly maxPayloadBytes: number;
  readonly headers: Readonly<Record<string, string>>;
}

export interface SocketEvents {
  onOpen(): void;
  onText(text: string): void;
  /** A pong, or any sign of life that is not a frame. */
  onPong(): void;
  /** Called once, whether the connection opened or not; `reason` says why it ended. */
  onClose(reason: string): void;
  onError(err: Error): void;
}

export interface ClientSocket {
  /** Unsent bytes queued in the socket: the client stops sending above a mark (backpressure). */
  readonly bufferedAmount: number;
  send(text: string): void;
  ping(): void;
  /** Closing handshake (1000); the peer's answer or `terminate` ends it. */
  close(): void;
  /** Drops the connection at once (a hung peer never answers a closing handshake). */
  terminate(): void;
}

function toText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

export function openSocket(url: string, options: SocketOptions, events: SocketEvents): ClientSocket {
  // No compression: frames are tiny, and the server turns it off too.
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: options.handshakeTimeoutMs, maxPayload: options.maxPayloadBytes, headers: { ...options.headers } });
  let lastError: string | null = null;
  let closed = false;
  // The TCP socket under the WebSocket (public: the upgrade response's socket, which ws goes on to use).
  // Frames sent in the same tick are corked and leave in one write at the next tick: 64 dialer lines whose
  // replies came in one read send their next checks in one syscall, not 64 (the wire bytes are the same).
  let tcp: Socket | null = null;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    tcp?.uncork();
  };
  ws.on('upgrade', (res) => {
    tcp = res.socket;
  });
  ws.on('open', () => events.onOpen());
  ws.on('message', (data: RawData, isBinary: boolean) => {
    // The protocol is JSON text frames; a binary frame is not a reply (the client fails its request closed on timeout).
    if (!isBinary) events.onText(toText(data));
  });
  ws.on('pong', () => events.onPong());
  // A refused upgrade (503 too many connections, 401 …) is an 'unexpected-response': ws then emits an
  // error and a close; we only need the status for the reason.
  ws.on('unexpected-response', (_req, res) => {
    lastError = `the gate refused the connection: HTTP ${res.statusCode ?? '?'}`;
    res.resume();
    ws.terminate();
  });
  ws.on('error', (err: Error) => {
    lastError ??= err.message;
    events.onError(err);
  });
  ws.on('close', (code: number) => {
    if (closed) return;
    closed = true;
    events.onClose(lastError ?? `connection closed (${code})`);
  });
  return {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send(text) {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (!corked && tcp !== null) {
        corked = true;
        tcp.cork();
        process.nextTick(uncork);
      }
      ws.send(text);
    },
    ping() {
      if (ws.readyState === WebSocket.OPEN) ws.ping();
    },
    close() {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    },
    terminate() {
      ws.terminate();
    },
  };
}
