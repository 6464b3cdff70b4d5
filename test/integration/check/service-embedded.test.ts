import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { startEmbedded, writeList, tempDir } from '../../helpers/service.js';
import type { RunningService } from '../../../src/service.js';

type Service = RunningService & { url: string };

describe('embedded service over a real WebSocket', () => {
  let svc: Service;
  let client: CheckClient;

  beforeAll(async () => {
    const dir = tempDir();
    const bloctel = writeList(['numero', '06 12 34 56 78', '0692123456', '+44 20 7946 0958', 'not a number'], 'bloctel.csv', dir);
    const internal = writeList(['0612345678', '07 50 00 00 01'], 'internal.txt', dir);
    svc = await startEmbedded(['--list', `bloctel=${bloctel}`, '--list', `internal=${internal}`, '--max-batch-size', '50', '--max-payload-bytes', '4096', '--max-bad-line-ratio', '0.5']);
    client = await CheckClient.connect(svc.url);
  });

  afterAll(async () => {
    await client.close();
    await svc.stop();
  });

  it('blocks a listed number in every format, with the first configured list as reason', async () => {
    for (const n of ['0612345678', '06.12.34.56.78', '+33 6 12 34 56 78', '0033612345678', '33612345678', '612345678', '+33 (0)6 12 34 56 78']) {
      const r = await client.request({ op: 'check', number: n });
      expect(r).toMatchObject({ verdict: 'block', reason: 'bloctel', number: '+33612345678' });
    }
    expect(await client.request({ op: 'check', number: '07 50 00 00 01' })).toMatchObject({ verdict: 'block', reason: 'internal', number: '+33750000001' });
  });

  it('blocks an overseas number whichever way it is written', async () => {
    for (const n of ['0692 12 34 56', '+262 692 12 34 56', '262692123456', '692123456']) {
      expect(await client.request({ op: 'check', number: n })).toMatchObject({ verdict: 'block', reason: 'bloctel', number: '+262692123456' });
    }
  });

  it('allows an unlisted valid number and blocks an invalid one', async () => {
    expect(await client.request({ op: 'check', number: '06 12 34 56 79', campaign: 'winter' })).toEqual({ id: expect.anything(), verdict: 'allow', reason: 'not_listed', number: '+33612345679' });
    expect(await client.request({ op: 'check', number: '12' })).toMatchObject({ verdict: 'block', reason: 'invalid_number', number: null });
    expect(await client.request({ op: 'check', number: '' })).toMatchObject({ verdict: 'block', reason: 'invalid_number', number: null });
  });

  it('keeps the client id, string or number', async () => {
    expect(await client.request({ id: 'abc', op: 'check', number: '0612345678' })).toMatchObject({ id: 'abc' });
    expect(await client.request({ id: 7, op: 'check', number: '0612345678' })).toMatchObject({ id: 7 });
  });

  it('answers a batch in request order', async () => {
    const r = await client.request({ op: 'check', numbers: ['0612345679', '0612345678', 'garbage', '+262692123456'] });
    expect(r['results']).toEqual([
      { number: '+33612345679', verdict: 'allow', reason: 'not_listed' },
      { number: '+33612345678', verdict: 'block', reason: 'bloctel' },
      { number: null, verdict: 'block', reason: 'invalid_number' },
      { number: '+262692123456', verdict: 'block', reason: 'bloctel' },
    ]);
  });

  it('refuses a batch over the limit with bad_request and keeps the connection', async () => {
    const r = await client.request({ op: 'check', numbers: Array.from({ length: 51 }, () => '0612345678') });
    expect(r).toMatchObject({ error: { code: 'bad_request' } });
    expect(await client.request({ op: 'check', number: '0612345678' })).toMatchObject({ verdict: 'block' });
  });

  it('answers malformed frames with bad_request and keeps the connection', async () => {
    const before = client.orphans.length;
    client.sendRaw('{not json');
    client.sendRaw('[1,2]');
    client.sendRaw(Buffer.from([1, 2, 3]));
    expect(await client.request({ id: 'u1', op: 'delete', number: '0612345678' })).toEqual({ id: 'u1', error: { code: 'bad_request', message: expect.any(String) } });
    expect(await client.request({ id: 'u2', op: 'check' })).toMatchObject({ id: 'u2', error: { code: 'bad_request' } });
    expect(await client.request({ id: 'u3', op: 'check', number: 612345678 })).toMatchObject({ id: 'u3', error: { code: 'bad_request' } });
    expect(await client.request({ op: 'check', number: '0612345678' })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
    const orphans = client.orphans.slice(before);
    expect(orphans).toHaveLength(3);
    for (const o of orphans) expect(o).toMatchObject({ id: null, error: { code: 'bad_request' } });
  });

  it('handles many requests in flight on one connection', async () => {
    const numbers = Array.from({ length: 2000 }, (_, i) => `06 12 34 ${String(50 + (i % 40)).padStart(2, '0')} ${String(i % 100).padStart(2, '0')}`);
    const replies = await Promise.all(numbers.map((number, i) => client.request({ id: `m${i}`, op: 'check', number })));
    replies.forEach((r, i) => expect(r['id']).toBe(`m${i}`));
  });

  it('closes with 1009 on a frame over the limit', async () => {
    const other = await CheckClient.connect(svc.url);
    const code = await new Promise<number>((resolve) => {
      other.socket.once('close', (c: number) => resolve(c));
      other.sendRaw(JSON.stringify({ id: 1, op: 'check', number: 'x'.repeat(5000) }));
    });
    expect(code).toBe(1009);
  });

  it('serves /healthz and /readyz', async () => {
    const base = `http://127.0.0.1:${svc.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, missing: [], lists: [{ name: 'bloctel', loaded: true, count: 3 }, { name: 'internal', loaded: true, count: 2 }] });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('refuses upgrades on unknown paths', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${svc.port}/elsewhere`);
    const err = await new Promise<Error>((resolve) => ws.once('error', resolve));
    expect(err.message).toMatch(/404/);
  });
});

describe('a list that cannot be loaded', () => {
  it('keeps the service not ready and blocks every check with not_ready', async () => {
    const dir = tempDir();
    const good = writeList(['0612345678'], 'good.txt', dir);
    const empty = writeList(['number', 'garbage'], 'empty.txt', dir);
    const svc = await startEmbedded(['--list', `good=${good}`, '--list', `empty=${empty}`, '--list', `missing=${dir}/nope.txt`]);
    const client = await CheckClient.connect(svc.url);
    try {
      expect(await client.request({ op: 'check', number: '0750000002' })).toMatchObject({ verdict: 'block', reason: 'not_ready', number: '+33750000002' });
      expect(await client.request({ op: 'check', number: 'zzz' })).toMatchObject({ verdict: 'block', reason: 'invalid_number' });
      const res = await fetch(`http://127.0.0.1:${svc.port}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { missing: string[]; lists: { name: string; lastError: string | null }[] };
      expect(body.missing).toEqual(['empty', 'missing']);
      expect(body.lists.find((l) => l.name === 'empty')?.lastError).toMatch(/no valid number/);
      expect(body.lists.find((l) => l.name === 'missing')?.lastError).toBeTruthy();
    } finally {
      await client.close();
      await svc.stop();
    }
  });
});
