/**
 * Seeded fuzz over what reaches the server from the network (issue 12, "keep it that way"): WebSocket
 * frames and HTTP requests against a real server on a real port. Asserts the process lives, memory
 * stays bounded, every reply is well-formed JSON of a documented shape, and no listed number is
 * allowed. Fixed seeds: a failure reproduces exactly.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { rawExchange, responseComplete, statusOf } from '../../helpers/raw-http.js';
import { waitFor } from '../../helpers/spawn-cli.js';
import { startEmbedded, writeList } from '../../helpers/service.js';

const SEED = 1212;

/** Listed numbers (E.164) and ways a dialer may write each. */
const LISTED = ['+33612345678', '+33698765432', '+33750000001', '+33144556677'];
const formsOf = (e164: string): string[] => {
  const national = `0${e164.slice(3)}`;
  return [e164, `00${e164.slice(1)}`, national, national.replace(/(\d\d)(?=\d)/g, '$1 '), national.replace(/(\d\d)(?=\d)/g, '$1.'), e164.slice(1), `+33 (0)${e164.slice(3)}`];
};
const LISTED_FORMS = LISTED.flatMap(formsOf);

const listedInput = fc.constantFrom(...LISTED_FORMS);
const anyNumber = fc.oneof(listedInput, fc.stringMatching(/^[0-9 +().-]{0,20}$/), fc.string({ maxLength: 30 }));
const anyId = fc.oneof(fc.maxSafeInteger(), fc.string({ maxLength: 40 }), fc.constant(2 ** 53 + 2), fc.double(), fc.constant(null));
const campaign = fc.option(fc.oneof(fc.stringMatching(/^[a-z-]{1,12}$/), fc.string({ maxLength: 70 })), { nil: undefined });

/** A frame: either a well-formed request (with a known id, to check its reply) or anything else. */
type Sent = { text: string | Buffer; expectBlock: boolean; id: string | null };
let nextId = 0;
const frameArb: fc.Arbitrary<Sent> = fc.oneof(
  listedInput.chain((n) => fc.record({ campaign, dial: fc.boolean() }).map((r): Sent => {
    const id = `L${nextId++}`;
    return { text: JSON.stringify({ id, op: 'check', number: n, dial: r.dial }), expectBlock: true, id };
  })),
  fc.record({ id: anyId, number: anyNumber, campaign, dial: fc.option(fc.boolean(), { nil: undefined }) }).map((r): Sent => ({ text: JSON.stringify({ ...r, op: 'check' }), expectBlock: false, id: null })),
  fc.record({ id: anyId, numbers: fc.array(anyNumber, { minLength: 0, maxLength: 8 }), campaign }).map((r): Sent => ({ text: JSON.stringify({ ...r, op: 'check' }), expectBlock: false, id: null })),
  fc.record({ id: anyId, number: anyNumber, outcome: fc.constantFrom('no_answer', 'answered', 'refused', 'x'), campaign }).map((r): Sent => ({ text: JSON.stringify({ ...r, op: 'outcome' }), expectBlock: false, id: null })),
  // Duplicate keys, with the listed number in either place: never answered allow.
  fc.tuple(listedInput, anyNumber, fc.boolean()).map(([a, b, first]): Sent => ({ text: `{"id":"d","op":"check","number":${JSON.stringify(first ? a : b)},"number":${JSON.stringify(first ? b : a)}}`, expectBlock: false, id: null })),
  fc.nat({ max: 5000 }).map((n): Sent => ({ text: `{"id":1,"op":"check","numbers":${'['.repeat(n)}`, expectBlock: false, id: null })),
  fc.oneof(fc.json({ maxDepth: 5 }), fc.string({ maxLength: 200 }), fc.jsonValue().map((v) => JSON.stringify(v))).map((t): Sent => ({ text: t, expectBlock: false, id: null })),
  fc.uint8Array({ maxLength: 64 }).map((b): Sent => ({ text: Buffer.from(b), expectBlock: false, id: null })),
);

/** Checks one reply's shape; returns the numbers it allowed. */
function allowedIn(reply: unknown): string[] {
  expect(reply).toBeTypeOf('object');
  const r = reply as Record<string, unknown>;
  expect('id' in r).toBe(true);
  expect(r['id'] === null || typeof r['id'] === 'string' || Number.isSafeInteger(r['id'])).toBe(true);
  if ('error' in r) {
    const e = r['error'] as Record<string, unknown>;
    expect(e['code']).toBe('bad_request');
    expect(typeof e['message']).toBe('string');
    return [];
  }
  if ('results' in r) {
    const results = r['results'] as Record<string, unknown>[];
    expect(Array.isArray(results)).toBe(true);
    return results.flatMap((x) => {
      expect(['allow', 'block']).toContain(x['verdict']);
      expect(typeof x['reason']).toBe('string');
      return x['verdict'] === 'allow' ? [x['number'] as string] : [];
    });
  }
  if ('outcome' in r) {
    expect(r['ok']).toBe(true);
    expect(typeof r['number']).toBe('string');
    return [];
  }
  expect(['allow', 'block']).toContain(r['verdict']);
  expect(typeof r['reason']).toBe('string');
  expect(r['number'] === null || typeof r['number'] === 'string').toBe(true);
  return r['verdict'] === 'allow' ? [r['number'] as string] : [];
}

async function fuzzFrames(url: string, seed: number, numRuns: number): Promise<void> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const replies: unknown[] = [];
  ws.on('message', (data) => replies.push(JSON.parse(String(data))));
  const rssBefore = process.memoryUsage().rss;
  await fc.assert(
    fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 12 }), async (frames) => {
      replies.length = 0;
      for (const f of frames) ws.send(f.text, { binary: Buffer.isBuffer(f.text) });
      // Every frame gets exactly one reply; the socket stays open.
      await waitFor(() => replies.length >= frames.length, `${frames.length} replies`);
      expect(ws.readyState).toBe(WebSocket.OPEN);
      for (const reply of replies) for (const n of allowedIn(reply)) expect(LISTED).not.toContain(n);
      for (const f of frames) {
        if (!f.expectBlock) continue;
        const reply = replies.find((r) => (r as { id: unknown }).id === f.id) as Record<string, unknown>;
        expect(reply['verdict']).toBe('block');
      }
    }),
    { seed, numRuns },
  );
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(300 * 1024 * 1024);
  ws.close();
}

const ROUTES = ['/', '/healthz', '/readyz', '/metrics', '/api/stats', '/api/alerts', '/dashboard', '/dashboard/dashboard.js', '/admin/refresh', '/admin/block', '/admin/unblock', '/admin/lists/add', '/admin/lists/remove', '/stats', '//[/', 'http://x:99999/a', '*'];
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
const httpArb = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'BREW'),
  target: fc.oneof(fc.constantFrom(...ROUTES), fc.stringMatching(/^[\x21-\x7e]{1,40}$/)),
  query: fc.option(fc.stringMatching(/^[\x21-\x7e]{0,30}$/), { nil: undefined }),
  host: fc.option(fc.oneof(fc.constantFrom('127.0.0.1', 'localhost', 'evil.example', '[::1]', '[::1', ''), headerValue), { nil: undefined }),
  origin: fc.option(fc.oneof(fc.constantFrom('null', 'http://evil.example', 'http://127.0.0.1'), headerValue), { nil: undefined }),
  contentType: fc.option(fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', 'multipart/form-data'), { nil: undefined }),
  upgrade: fc.boolean(),
  body: fc.oneof(fc.constant(''), fc.json({ maxDepth: 3 }), fc.string({ maxLength: 100 }), fc.record({ numbers: fc.array(anyNumber, { maxLength: 3 }), list: fc.constantFrom('bloctel', 'x') }).map((v) => JSON.stringify(v))),
});

describe('seeded fuzz against a real server (issue 12, keep it that way)', () => {
  let svc: Awaited<ReturnType<typeof startEmbedded>>;

  beforeAll(async () => {
    svc = await startEmbedded(['--list', `bloctel=${writeList(LISTED_FORMS)}`, '--max-batch-size', '8', '--max-payload-bytes', '65536']);
  });
  afterAll(async () => {
    await svc.stop();
  });

  it('WebSocket frames: one well-formed reply each, the socket lives, no listed number allowed (embedded)', async () => {
    await fuzzFrames(svc.url, SEED, 150);
  });

  it('HTTP requests: every one answered with a status (never a 500), and the process lives', async () => {
    const rssBefore = process.memoryUsage().rss;
    await fc.assert(
      fc.asyncProperty(httpArb, async (r) => {
        const body = Buffer.from(r.body, 'utf8');
        const head = [
          `${r.method} ${r.target}${r.query === undefined ? '' : `?${r.query}`} HTTP/1.1`,
          ...(r.host === undefined ? [] : [`Host: ${r.host}`]),
          ...(r.origin === undefined ? [] : [`Origin: ${r.origin}`]),
          ...(r.contentType === undefined ? [] : [`Content-Type: ${r.contentType}`]),
          ...(r.upgrade ? ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'] : ['Connection: close']),
          `Content-Length: ${body.length}`,
        ].join('\r\n');
        const res = await rawExchange(svc.port, Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), body]), responseComplete);
        const status = statusOf(res);
        expect(status, res.slice(0, 200)).not.toBeNull();
        expect(status).not.toBe(500);
      }),
      { seed: SEED, numRuns: 300 },
    );
    const health = await rawExchange(svc.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(statusOf(health)).toBe(200);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(300 * 1024 * 1024);
    // The WebSocket side is still sound after the HTTP fuzz.
    await fuzzFrames(svc.url, SEED + 1, 20);
  });
});

describe('seeded fuzz in Redis mode', () => {
  it('WebSocket frames: one well-formed reply each, no listed number allowed (Redis)', async () => {
    const prefix = uniquePrefix();
    const svc = await startRedisMode(SHARED_REDIS_URL, prefix, ['--list', `bloctel=${writeList(LISTED_FORMS)}`, '--max-batch-size', '8', '--max-payload-bytes', '65536']);
    try {
      await fuzzFrames(svc.url, SEED + 2, 60);
    } finally {
      await svc.stop();
      await svc.store.close();
      await deletePrefix(SHARED_REDIS_URL, prefix);
    }
  });
});
