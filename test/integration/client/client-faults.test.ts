/**
 * The client against a fault-injecting peer (a real `ws` server on a real port that answers what the real
 * gate never would): malformed frames, a reply of the wrong kind, an allow that arrives after its timeout,
 * error replies, a refused upgrade. What is under test is the client's reading of replies — the real gate
 * cannot be made to send these, so a scripted peer stands in for it here and only here (client.test.ts runs
 * the real server).
 */
import type { IncomingMessage } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { CallgateClient } from '../../../src/client/index.js';

type Script = (request: Record<string, unknown>, ws: WebSocket) => void;

const servers: WebSocketServer[] = [];
const clients: CallgateClient[] = [];

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const s of servers) {
    for (const ws of s.clients) ws.terminate();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function peer(script: Script, verifyClient?: (info: { req: IncomingMessage }) => boolean): Promise<{ url: string; headers: IncomingMessage['headers'][] }> {
  const headers: IncomingMessage['headers'][] = [];
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...(verifyClient === undefined ? {} : { verifyClient }) });
  servers.push(wss);
  wss.on('connection', (ws, req) => {
    headers.push(req.headers);
    ws.on('message', (data) => script(JSON.parse(data.toString()) as Record<string, unknown>, ws));
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('unexpected address');
  return { url: `ws://127.0.0.1:${address.port}/`, headers };
}

function client(url: string, timeoutMs = 300): CallgateClient {
  const c = new CallgateClient({ url, timeoutMs, token: 's3cret' });
  clients.push(c);
  return c;
}

describe('replies the client cannot trust fail closed', () => {
  it('a garbage frame, a wrong-kind reply, a short batch and an unknown id never read as allow', async () => {
    const { url, headers } = await peer((req, ws) => {
      const id = req['id'];
      const n = req['number'];
      if (n === 'garbage') ws.send('allow');
      else if (n === 'wrong-kind') ws.send(JSON.stringify({ id, results: [{ number: null, verdict: 'allow', reason: 'not_listed' }] }));
      else if (n === 'other-id') ws.send(JSON.stringify({ id: 999_999, verdict: 'allow', reason: 'not_listed', number: null }));
      else if (n === 'capital') ws.send(JSON.stringify({ id, verdict: 'Allow', reason: 'not_listed', number: null }));
      else if (n === 'overloaded') ws.send(JSON.stringify({ id, error: { code: 'overloaded', message: 'busy' } }));
      else if (Array.isArray(req['numbers'])) ws.send(JSON.stringify({ id, results: [{ number: null, verdict: 'allow', reason: 'not_listed' }] }));
      else ws.send(JSON.stringify({ id, verdict: 'allow', reason: 'not_listed', number: '+33612345679' }));
    });
    const c = client(url);
    await c.connected();
    expect(headers[0]?.authorization).toBe('Bearer s3cret');
    for (const n of ['garbage', 'other-id', 'capital']) {
      expect(await c.check(n), n).toMatchObject({ verdict: 'block', reason: 'gate_unavailable', error: { code: 'gate_unavailable' } });
    }
    expect(await c.check('wrong-kind')).toMatchObject({ verdict: 'block', reason: 'gate_unavailable' });
    expect(await c.check('overloaded')).toMatchObject({ verdict: 'block', reason: 'gate_unavailable', error: { code: 'overloaded' } });
    // Two numbers, one result: every entry blocks.
    expect(await c.batch(['a', 'b'])).toEqual([
      expect.objectContaining({ verdict: 'block', reason: 'gate_unavailable' }),
      expect.objectContaining({ verdict: 'block', reason: 'gate_unavailable' }),
    ]);
    expect(await c.check('fine')).toEqual({ verdict: 'allow', reason: 'not_listed', number: '+33612345679' });
    expect(c.stats.lateReplies).toBeGreaterThanOrEqual(1);
    expect(c.state).toBe('open');
  });

  it('an allow that arrives after the timeout is dropped: the check already answered block', async () => {
    const { url } = await peer((req, ws) => {
      setTimeout(() => ws.send(JSON.stringify({ id: req['id'], verdict: 'allow', reason: 'not_listed', number: null })), 600);
    });
    const c = client(url, 200);
    await c.connected();
    const started = performance.now();
    expect(await c.check('0612345679')).toMatchObject({ verdict: 'block', reason: 'gate_unavailable' });
    expect(performance.now() - started).toBeLessThan(600);
    await expect.poll(() => c.stats.lateReplies, { timeout: 5000 }).toBe(1);
    expect(c.stats.timeouts).toBe(1);
  });

  it('a refused upgrade (401) is unreachable, and checks block', async () => {
    const { url } = await peer(
      () => {},
      () => false,
    );
    const c = client(url);
    const pending = c.check('0612345679');
    await expect(c.connected()).rejects.toMatchObject({ code: 'CALLGATE_ERR_UNREACHABLE', message: expect.stringContaining('HTTP 401') });
    expect(await pending).toMatchObject({ verdict: 'block', reason: 'gate_unavailable' });
  });
});
