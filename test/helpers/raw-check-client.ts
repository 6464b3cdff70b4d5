/**
 * A raw client of the check protocol, for tests that assert on the wire: one socket, many requests in
 * flight, each reply handed back as the server sent it (error replies, ids, extra fields), frames sent as
 * given (malformed ones too). Not the package's client (src/client/), which fails closed and so would hide
 * exactly what these tests look at.
 */
import { WebSocket } from 'ws';

export type Reply = Record<string, unknown> & { readonly id: string | number | null };

export class CheckClient {
  readonly #ws: WebSocket;
  readonly #pending = new Map<string | number, (reply: Reply) => void>();
  #nextId = 1;
  /** Replies whose id matches no pending request (error replies to undecodable frames). */
  readonly orphans: Reply[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => {
      const reply = JSON.parse(data.toString()) as Reply;
      const resolve = reply.id === null ? undefined : this.#pending.get(reply.id);
      if (resolve === undefined || reply.id === null) {
        this.orphans.push(reply);
        return;
      }
      this.#pending.delete(reply.id);
      resolve(reply);
    });
    ws.on('close', () => {
      for (const [id, resolve] of this.#pending) resolve({ id, error: { code: 'closed', message: 'connection closed' } });
      this.#pending.clear();
    });
  }

  static connect(url: string, timeoutMs = 5000): Promise<CheckClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      ws.once('open', () => resolve(new CheckClient(ws)));
      ws.once('error', reject);
    });
  }

  /** Sends a request (an id is assigned unless given) and resolves with its reply. */
  request(body: Record<string, unknown>): Promise<Reply> {
    const id = (body['id'] as string | number | undefined) ?? this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#ws.send(JSON.stringify({ ...body, id }));
    });
  }

  /** Sends raw text, for tests of malformed frames. */
  sendRaw(data: string | Buffer): void {
    this.#ws.send(data);
  }

  get socket(): WebSocket {
    return this.#ws;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#ws.readyState === WebSocket.CLOSED) return resolve();
      this.#ws.once('close', () => resolve());
      this.#ws.close();
    });
  }
}
