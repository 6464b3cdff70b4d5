/**
 * The port holds at most --max-sockets TCP connections of every kind: a flood of idle connections is
 * closed at once past the cap, while the connections already open keep being served (never down).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import type { RunningService } from '../../../src/service.js';
import { socketCap } from '../../../src/config/config.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { rawExchange, responseComplete, statusOf } from '../../helpers/raw-http.js';
import { waitFor } from '../../helpers/spawn-cli.js';
import { startEmbedded, writeList } from '../../helpers/service.js';

type Service = RunningService & { url: string };

/** Opens a TCP connection and resolves once it is connected; `closed` settles when the server closes it. */
function openIdle(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

describe('--max-sockets caps the TCP connections of every kind', () => {
  const cap = socketCap(1, 1);
  let svc: Service;
  const idle: Socket[] = [];

  beforeAll(async () => {
    svc = await startEmbedded(['--list', `deny=${writeList(['0612345678'])}`, '--max-connections', '1', '--max-sockets', '1', '--ping-interval-ms', '0']);
  });
  afterAll(async () => {
    for (const s of idle) s.destroy();
    await svc.stop();
  });

  it('the cap is raised to its floor beside --max-connections', () => {
    expect(cap).toBe(66);
  });

  it('past the cap a new connection is closed at once; the open check socket is still served; room comes back', async () => {
    const client = await CheckClient.connect(svc.url);
    // The check socket is one connection; fill the rest with idle ones.
    for (let i = 0; i < cap - 1; i++) idle.push((await openIdle(svc.port)).socket);
    const over = await openIdle(svc.port);
    await over.closed; // closed by the server, without a byte: resolves, never times out
    expect(await client.request({ op: 'check', number: '06 12 34 56 78' })).toMatchObject({ verdict: 'block' });
    // Free one slot: an HTTP check goes through again.
    (idle.pop() as Socket).destroy();
    // Until the server has seen that close, a new connection may still be over the cap: closed unanswered.
    const answer = await waitFor(async () => {
      const r = await rawExchange(svc.port, 'GET /v1/check?number=0612345678&format=text HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', responseComplete);
      return statusOf(r) === 200 ? r : null;
    }, 'a slot to free up');
    expect(answer).toMatch(/\r\n\r\nblock /);
    await client.close();
  });
});
