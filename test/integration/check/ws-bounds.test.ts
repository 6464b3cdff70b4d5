import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Socket } from 'node:net';
import type { RunningService } from '../../../src/service.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { SEND_HIGH_WATER_BYTES } from '../../../src/server/ws-check.js';
import { clientFrame, rawExchange, rawWebSocket, responseComplete, statusOf, UPGRADE_HEADERS } from '../../helpers/raw-http.js';
import { waitFor } from '../../helpers/spawn-cli.js';
import { startEmbedded, writeList } from '../../helpers/service.js';

type Service = RunningService & { url: string };

/** Frames written by a client that never reads, of one reply kind. */
const KINDS: readonly { kind: string; frame: (i: number) => string; writtenBytes: number }[] = [
  {
    kind: 'batch',
    frame: (i) => JSON.stringify({ id: i, op: 'check', numbers: Array.from({ length: 200 }, (_, j) => `07${String(10_000_000 + j)}`) }),
    writtenBytes: 48 * 1024 * 1024,
  },
  { kind: 'check', frame: (i) => JSON.stringify({ id: i, op: 'check', number: '0612345678' }), writtenBytes: 24 * 1024 * 1024 },
  { kind: 'outcome', frame: (i) => JSON.stringify({ id: i, op: 'outcome', number: '0712345678', outcome: 'no_answer' }), writtenBytes: 24 * 1024 * 1024 },
];

describe('memory per connection is bounded for a client that never reads (issue 12 item 2)', () => {
  let svc: Service;

  beforeAll(async () => {
    svc = await startEmbedded(['--list', `deny=${writeList(['0612345678'])}`, '--max-batch-size', '200', '--ping-interval-ms', '0', '--max-connections', '4']);
  });
  afterAll(async () => {
    await svc.stop();
  });

  it.each(KINDS)('$kind replies: the server stops reading, and nothing resumes it', async ({ frame, writtenBytes }) => {
    const socket: Socket = await rawWebSocket(svc.port);
    // Never read: the client's receive buffer fills, then the server's send buffer.
    socket.pause();
    const frames: Buffer[] = [];
    let size = 0;
    for (let i = 0; size < writtenBytes; i++) {
      const f = clientFrame(frame(i));
      frames.push(f);
      size += f.length;
    }
    try {
      socket.write(Buffer.concat(frames));
      const mine = (): ReturnType<Service['checkConnections']>[number] | undefined => svc.checkConnections().at(-1);
      // Stopped for good: paused with nothing in flight and replies unsent, so only a read by the client
      // (a 'drain') could resume it.
      const stopped = await waitFor(() => {
        const c = mine();
        return c !== undefined && c.paused && c.inFlight === 0 && c.bufferedBytes > SEND_HIGH_WATER_BYTES >> 2 ? c : null;
      }, 'the connection to stop being read', 60_000);
      expect(stopped.bytesRead).toBeLessThan(writtenBytes / 2);
      // Other clients are still served, and the stopped one read at most a few more socket reads meanwhile:
      // on a loaded machine the kernel may still grow the loopback windows (TCP autotuning), so a drain can
      // let one more 64 KiB read in before the bound pauses it again; reading never goes on.
      const other = await CheckClient.connect(svc.url);
      expect(await other.request({ op: 'check', number: '0612345678' })).toMatchObject({ verdict: 'block' });
      await other.close();
      const after = await waitFor(() => {
        const c = mine();
        return c !== undefined && c.paused ? c : null;
      }, 'the connection to be paused again');
      expect(after.bytesRead - stopped.bytesRead).toBeLessThanOrEqual(4 * 64 * 1024);
    } finally {
      socket.destroy();
    }
    await waitFor(() => svc.checkConnections().length === 0, 'the connection to close');
  });

  it('connections past --max-connections are refused with a 503, and admitted again once one closes', async () => {
    const open = await Promise.all([1, 2, 3, 4].map(() => CheckClient.connect(svc.url)));
    const r = await rawExchange(svc.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE_HEADERS}\r\n`, responseComplete);
    expect(statusOf(r)).toBe(503);
    expect(r).toContain('"code":"too_many_connections"');
    await (open.pop() as CheckClient).close();
    await waitFor(() => svc.checkConnections().length === 3, 'one connection to close');
    const again = await CheckClient.connect(svc.url);
    expect(await again.request({ op: 'check', number: '0612345678' })).toMatchObject({ verdict: 'block' });
    await Promise.all([...open, again].map((c) => c.close()));
  });
});

describe('dead sockets are dropped (issue 12 item 2)', () => {
  let svc: Service;

  beforeAll(async () => {
    // Long enough that a live client's pong is always read before the next ping on a busy machine.
    svc = await startEmbedded(['--list', `deny=${writeList(['0612345678'])}`, '--ping-interval-ms', '1000']);
  });
  afterAll(async () => {
    await svc.stop();
  });

  it('a socket that never answers a ping is closed by the server', async () => {
    const socket = await rawWebSocket(svc.port);
    socket.pause();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.resume();
    socket.on('data', () => undefined);
    await closed;
    await waitFor(() => svc.checkConnections().length === 0, 'the server to forget it');
  });

  it('a client that answers pings (ws does) keeps its socket through several pings', async () => {
    const ws = new WebSocket(svc.url);
    let pings = 0;
    ws.on('ping', () => pings++);
    await new Promise((resolve) => ws.once('open', resolve));
    await waitFor(() => pings >= 3, 'three pings', 30_000);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });
});
