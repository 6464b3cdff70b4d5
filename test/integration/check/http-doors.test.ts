/**
 * The HTTP doors (server/http-check.ts) against the real server, in both modes: the same numbers
 * (listed, unlisted, invalid, two readings, a consent campaign, an unknown campaign, dials, a batch,
 * outcomes) sent over the check socket and over HTTP give identical replies (modulo the socket's id),
 * identical audit records (modulo `at`) and identical stats increments. Then the edges, asserting codes:
 * a literal `+` and `%2B` stay a plus, duplicate and unknown parameters, oversize queries and bodies,
 * wrong methods, bad JSON, the plain-text form, tokens, the opt-out door (add only), the site guard —
 * and the process still answers afterwards, on the same keep-alive connection.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, Agent } from 'node:http';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/raw-check-client.js';
import type { RunningService } from '../../../src/service.js';
import { writeConsentConfig } from '../../helpers/list-files.js';
import { rawExchange, responseComplete, statusOf } from '../../helpers/raw-http.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { startEmbedded, tempDir } from '../../helpers/service.js';

// Tuesday 1 December 2026, 11:00 in Paris: inside the calling hours.
const TUESDAY_11H = Date.parse('2026-12-01T10:00:00Z');

const LISTED = '0699999999';
const CONSENTED = '0612000020';
const UNLISTED = '0612000030';

function setup(dir: string): string {
  const consents = join(dir, 'consents.csv');
  writeFileSync(consents, `number;consented_at;source;proof;expires_at\n${CONSENTED};2026-09-01T10:00:00+02:00;web;p-20;2030-01-01T00:00:00Z\n`);
  const bloctel = join(dir, 'bloctel.txt');
  writeFileSync(bloctel, `${LISTED}\n`);
  // No caps nor refusals: a dial over the socket and the same dial over HTTP must get the same answer.
  return writeConsentConfig(dir, { bloctel, consents }, { policies: { optin: { base: 'fr-optin', frequencyCap: null, refusalDays: null } }, campaigns: { winter: { policy: 'optin' }, plain: { policy: 'deny-lists' } } });
}

interface Case {
  readonly number: string;
  readonly campaign?: string;
  readonly dial?: boolean;
}

const CASES: readonly Case[] = [
  { number: '+33699999999', campaign: 'plain' },
  { number: LISTED, campaign: 'plain', dial: true },
  { number: UNLISTED, campaign: 'plain', dial: true },
  { number: '+33612000030', campaign: 'plain' },
  { number: 'not a number', campaign: 'plain' },
  // Nine digits without + or 0: two readings (numbers/normalise.ts rule 9).
  { number: '699999999', campaign: 'plain' },
  { number: '612000030', campaign: 'plain' },
  { number: CONSENTED, campaign: 'winter', dial: true },
  { number: UNLISTED, campaign: 'winter' },
  { number: LISTED, campaign: 'winter' },
  { number: UNLISTED, campaign: 'nosuch' },
];

/** The query a dialplan writes: the number NOT percent-encoded (a literal + stays as it is). */
function checkUrl(port: number, c: Case): string {
  const q = [`number=${c.number.replaceAll(' ', '%20')}`];
  if (c.campaign !== undefined) q.push(`campaign=${c.campaign}`);
  if (c.dial === true) q.push('dial=1');
  return `http://127.0.0.1:${port}/v1/check?${q.join('&')}`;
}

/** The counters a check moves in /metrics (audit counters move at flush time, so they are left out). */
async function counters(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const hit = /^(callgate_checks_total\{[^}]*\}|callgate_check_duration_seconds_count) (\d+)/.exec(line);
    if (hit?.[1] !== undefined) m.set(hit[1], Number(hit[2]));
  }
  return m;
}

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of after) if (v !== (before.get(k) ?? 0)) d[k] = v - (before.get(k) ?? 0);
  return d;
}

function withoutId(reply: Record<string, unknown>): string {
  const { id: _id, ...rest } = reply;
  return JSON.stringify(rest);
}

/** Every audit record of a stopped service, in order, without its time. */
function auditRecords(dir: string): Array<Record<string, unknown>> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  return files.flatMap((f) =>
    readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const { at: _at, ...rest } = JSON.parse(l) as Record<string, unknown>;
        return rest;
      }),
  );
}

async function postJson(port: number, path: string, body: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Socket, then HTTP, for each kind of request; returns the number of audit records each side wrote. */
async function sameOverBoth(svc: RunningService & { url: string }): Promise<number> {
  const port = svc.port;
  const client = await CheckClient.connect(svc.url);
  try {
    const m0 = await counters(port);
    const overSocket: string[] = [];
    for (const c of CASES) overSocket.push(withoutId(await client.request({ op: 'check', number: c.number, campaign: c.campaign ?? null, dial: c.dial ?? false })));
    const batchNumbers = [LISTED, UNLISTED, 'nope', '699999999'];
    overSocket.push(withoutId(await client.request({ op: 'check', numbers: batchNumbers, campaign: 'plain' })));
    overSocket.push(withoutId(await client.request({ op: 'outcome', number: '+33612000031', campaign: 'plain', outcome: 'refused' })));
    const m1 = await counters(port);

    const overHttp: string[] = [];
    for (const c of CASES) {
      const res = await fetch(checkUrl(port, c));
      expect(res.status).toBe(200);
      overHttp.push(await res.text());
    }
    overHttp.push(await (await postJson(port, '/v1/check', { numbers: batchNumbers, campaign: 'plain' })).text());
    overHttp.push(await (await postJson(port, '/v1/outcome', { number: '+33612000031', campaign: 'plain', outcome: 'refused' })).text());
    const m2 = await counters(port);

    expect(overHttp).toEqual(overSocket);
    // The verdicts this test is about (a guard against a setup that blocks everything as not_ready).
    expect(overSocket.slice(0, 4).map((r) => (JSON.parse(r) as { reason: string }).reason)).toEqual(['bloctel', 'bloctel', 'not_listed', 'not_listed']);
    expect(JSON.parse(overSocket[7] ?? '{}')).toMatchObject({ verdict: 'allow', reason: 'consent' });
    expect(JSON.parse(overSocket[8] ?? '{}')).toMatchObject({ verdict: 'block', reason: 'no_consent' });
    expect(JSON.parse(overSocket[10] ?? '{}')).toMatchObject({ verdict: 'block', reason: 'unknown_campaign' });
    const bySocket = delta(m0, m1);
    expect(Object.keys(bySocket).length).toBeGreaterThan(3);
    expect(delta(m1, m2)).toEqual(bySocket);
    return CASES.length + 1 + 1;
  } finally {
    await client.close();
  }
}

function assertSameAudit(auditDir: string, perSide: number): void {
  // The decisions' records (list loads and the like are recorded too, before either side ran).
  const records = auditRecords(auditDir).filter((r) => r['type'] === 'check' || r['type'] === 'batch' || r['type'] === 'outcome');
  expect(records).toHaveLength(perSide * 2);
  expect(records.slice(perSide)).toEqual(records.slice(0, perSide));
  expect(records.filter((r) => r['type'] === 'check' && r['dial'] === true)).toHaveLength(6);
}

/** One request on a given agent (keep-alive), raw: status, headers and body. */
function get(agent: Agent, port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function errorCode(body: string): string | undefined {
  return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
}

describe('HTTP doors, embedded mode', () => {
  it('answer exactly what the socket answers: replies, audit records, stats', async () => {
    const dir = tempDir();
    const auditDir = tempDir('callgate-audit-');
    const svc = await startEmbedded(['--config', setup(dir), '--audit-dir', auditDir], {}, { now: () => TUESDAY_11H });
    let perSide = 0;
    try {
      perSide = await sameOverBoth(svc);
    } finally {
      await svc.stop();
    }
    assertSameAudit(auditDir, perSide);
  });

  it('parse queries so the number cannot change, refuse bad requests with codes, and live on', async () => {
    const dir = tempDir();
    const svc = await startEmbedded(['--config', setup(dir), '--block-list', 'bloctel', '--max-payload-bytes', '4096'], {}, { now: () => TUESDAY_11H });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const port = svc.port;
    const text = { accept: 'text/plain' };
    try {
      // A literal + is a plus; %2B too; a form decoder would have made it a space and a 9-digit number.
      const plus = await get(agent, port, '/v1/check?number=+33699999999&campaign=plain');
      expect(JSON.parse(plus.body)).toEqual({ verdict: 'block', reason: 'bloctel', number: '+33699999999' });
      expect(plus.headers['x-callgate-verdict']).toBe('block');
      expect(plus.headers['x-callgate-reason']).toBe('bloctel');
      expect(plus.headers['connection']).toBe('keep-alive');
      expect(JSON.parse((await get(agent, port, '/v1/check?number=%2B33612000030&campaign=plain')).body)).toMatchObject({ verdict: 'allow', number: '+33612000030' });
      expect(JSON.parse((await get(agent, port, '/v1/check?number=%2b33612000030&campaign=plain')).body)).toMatchObject({ number: '+33612000030' });

      // The plain form: 200 for both verdicts, exactly `allow` / `block REASON`; refusals `error CODE` with a 4xx.
      expect(await get(agent, port, '/v1/check?number=+33612000030&campaign=plain', text)).toMatchObject({ status: 200, body: 'allow' });
      expect(await get(agent, port, '/v1/check?number=+33699999999&campaign=plain', text)).toMatchObject({ status: 200, body: 'block bloctel' });
      expect(await get(agent, port, '/v1/check?number=+33612000030&campaign=plain&format=text')).toMatchObject({ status: 200, body: 'allow' });
      expect(await get(agent, port, '/v1/check?number=x&campaign=plain&format=text')).toMatchObject({ status: 200, body: 'block invalid_number' });
      expect(await get(agent, port, '/v1/check?number=+33612000030&number=+33699999999', text)).toMatchObject({ status: 400, body: 'error duplicate_parameter' });

      const refusals: Array<[string, number, string]> = [
        ['/v1/check?number=+33612000030&number=+33699999999', 400, 'duplicate_parameter'],
        ['/v1/check?number=+33612000030&campaign=plain&campaign=winter', 400, 'duplicate_parameter'],
        ['/v1/check?number=+33612000030&campain=winter', 400, 'unknown_parameter'],
        ['/v1/check?number=+33612000030&id=7', 400, 'unknown_parameter'],
        ['/v1/check?campaign=plain', 400, 'missing_parameter'],
        ['/v1/check?number=%E0%A4%A', 400, 'bad_query'],
        ['/v1/check?number=%zz', 400, 'bad_query'],
        ['/v1/check?number=+33612000030&dial=maybe', 400, 'bad_request'],
        [`/v1/check?number=${'1'.repeat(65)}`, 400, 'bad_request'],
        [`/v1/check?number=+33612000030&campaign=${'c'.repeat(65)}`, 400, 'bad_request'],
        ['/v1/check?number=+33612000030&campaign=a%0Ab', 400, 'bad_request'],
        ['/v1/check?number=+33612000030&campaign=', 400, 'bad_request'],
        [`/v1/check?number=1&campaign=plain&${'x'.repeat(2100)}`, 414, 'query_too_long'],
        ['/v1/check?number=+33612000030&format=xml', 400, 'bad_request'],
      ];
      for (const [path, status, code] of refusals) {
        const r = await get(agent, port, path);
        expect({ path, status: r.status, code: errorCode(r.body) }).toEqual({ path, status, code });
      }
      // The campaign cannot be smuggled in through the number: `&` splits, and the split is refused.
      const smuggled = await get(agent, port, '/v1/check?number=0612000030&campaign=winter&campaign=plain');
      expect(errorCode(smuggled.body)).toBe('duplicate_parameter');
      expect(JSON.parse((await get(agent, port, '/v1/check?number=0612000030%26campaign%3Dplain&campaign=winter')).body)).toMatchObject({ verdict: 'block', reason: 'invalid_number' });

      // Methods, media types, bodies.
      const del = await get(agent, port, '/v1/check', {}, 'DELETE');
      expect({ status: del.status, code: errorCode(del.body), allow: del.headers['allow'] }).toEqual({ status: 405, code: 'method_not_allowed', allow: 'GET, POST' });
      expect(errorCode((await get(agent, port, '/v1/outcome?number=+33612000030&outcome=refused', {}, 'PUT')).body)).toBe('method_not_allowed');
      expect(errorCode((await get(agent, port, '/v1/optout?number=+33612000030')).body)).toBe('method_not_allowed');
      expect(await get(agent, port, '/v1/outcome?number=+33612000030&campaign=plain&outcome=no_answer&format=text')).toMatchObject({ status: 200, body: 'ok' });
      const json = { 'content-type': 'application/json' };
      const bodies: Array<[string, string, Record<string, string>, number, string]> = [
        ['/v1/check', '{"number":', json, 400, 'bad_json'],
        ['/v1/check', '[1,2]', json, 400, 'bad_json'],
        ['/v1/check', '{"a":{"b":1}}', json, 400, 'bad_json'],
        ['/v1/check', '{"number":"+33612000030","number":"+33699999999"}', json, 400, 'duplicate_field'],
        ['/v1/check', '{"number":"+33612000030","extra":1}', json, 400, 'unknown_field'],
        ['/v1/check', '{"op":"outcome","number":"+33612000030"}', json, 400, 'bad_request'],
        ['/v1/check', '{"numbers":[],"campaign":"plain"}', json, 400, 'bad_request'],
        ['/v1/check', '{"numbers":["1"],"dial":true}', json, 400, 'bad_request'],
        ['/v1/check', JSON.stringify({ numbers: Array.from({ length: 400 }, () => '+33612000030') }), json, 413, 'payload_too_large'],
        ['/v1/check', '{"number":"+33612000030"}', { 'content-type': 'text/xml' }, 415, 'unsupported_media_type'],
        ['/v1/outcome', '{"number":"+33612000030","outcome":"maybe"}', json, 400, 'bad_request'],
        ['/v1/outcome', '{"number":"nope","outcome":"refused"}', json, 400, 'bad_request'],
        ['/v1/outcome', 'number=+33612000030', { 'content-type': 'application/x-www-form-urlencoded' }, 400, 'missing_parameter'],
      ];
      for (const [path, body, headers, status, code] of bodies) {
        const r = await get(agent, port, path, headers, 'POST', body);
        expect({ path, body: body.slice(0, 60), status: r.status, code: errorCode(r.body) }).toEqual({ path, body: body.slice(0, 60), status, code });
      }
      // A frame as the socket takes it (its id echoed), a batch, and form fields (the + kept).
      expect(JSON.parse((await get(agent, port, '/v1/check', json, 'POST', '{"id":"a1","op":"check","number":"+33699999999","campaign":"plain"}')).body)).toEqual({ id: 'a1', verdict: 'block', reason: 'bloctel', number: '+33699999999' });
      const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/plain' };
      expect(await get(agent, port, '/v1/check', form, 'POST', 'number=+33699999999&campaign=plain')).toMatchObject({ status: 200, body: 'block bloctel' });
      expect(await get(agent, port, '/v1/outcome', form, 'POST', 'number=+33612000040&campaign=plain&outcome=refused')).toMatchObject({ status: 200, body: 'ok' });
      expect(await get(agent, port, '/v1/outcome?number=+33612000040', form, 'POST', 'number=+33612000040&outcome=refused')).toMatchObject({ status: 400, body: 'error duplicate_parameter' });

      // The opt-out door: adds to the block list (loopback, no token configured), and only adds.
      expect(await get(agent, port, '/v1/check?number=+33612000050&campaign=plain', text)).toMatchObject({ body: 'allow' });
      expect(await get(agent, port, '/v1/optout', form, 'POST', 'number=+33612000050&who=agent-7')).toMatchObject({ status: 200, body: 'ok' });
      expect(await get(agent, port, '/v1/check?number=+33612000050&campaign=plain', text)).toMatchObject({ body: 'block bloctel' });
      expect(errorCode((await get(agent, port, '/v1/optout', json, 'POST', '{"number":"nope"}')).body)).toBe('invalid_number');
      expect(errorCode((await get(agent, port, '/v1/optout', json, 'POST', '{"number":"+33612000050","list":"consents"}')).body)).toBe('unknown_field');
      expect(await get(agent, port, '/v1/optout', form, 'POST', 'number=+33612000050&op=remove')).toMatchObject({ status: 400, body: 'error unknown_parameter' });
      expect(errorCode((await get(agent, port, '/v1/optout', {}, 'DELETE')).body)).toBe('method_not_allowed');

      // The site guard still refuses cross-site requests to these routes.
      const cross = await get(agent, port, '/v1/check?number=+33612000030', { origin: 'http://evil.example' });
      expect({ status: cross.status, code: errorCode(cross.body) }).toEqual({ status: 403, code: 'cross_site' });
      const rebound = await get(agent, port, '/v1/optout', { ...json, host: 'evil.example:8080' }, 'POST', '{"number":"+33612000060"}');
      expect({ status: rebound.status, code: errorCode(rebound.body) }).toEqual({ status: 403, code: 'forbidden_host' });

      // A request the HTTP parser refuses, then the same keep-alive agent still gets answers.
      const raw = await rawExchange(port, 'GET /v1/check?number=+33612000030 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: x\r\n\r\n', responseComplete);
      expect(statusOf(raw)).toBe(400);
      expect(await get(agent, port, '/v1/check?number=+33612000030&campaign=plain', text)).toMatchObject({ status: 200, body: 'allow' });
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      agent.destroy();
      await svc.stop();
    }
  });

  it('never allows the listed number, however the query is written, and never answers 500', async () => {
    const svc = await startEmbedded(['--config', setup(tempDir())], {}, { now: () => TUESDAY_11H });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    // The listed number in the ways dialplans and encoders write it.
    const listed = ['+33699999999', '%2B33699999999', '%2b33699999999', '0699999999', '06%2099%2099%2099%2099', '06.99.99.99.99', '+33%206%2099%2099%2099%2099', '0033699999999', '699999999', '+33+699999999'];
    const extra = fc.oneof(
      fc.constantFrom('campaign=plain', 'campaign=winter', 'campaign=nosuch', 'dial=1', 'dial=0', 'format=text', 'format=json', 'token=x', 'id=1', 'campain=plain', 'number=0612000030', '&', '%', '=', 'dial'),
      // Printable, as an HTTP client sends a request target (no space, no fragment).
      fc.string({ maxLength: 30 }).map((x) => x.replace(/[^\x21-\x7e]|#/g, '')),
    );
    try {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...listed), fc.array(extra, { maxLength: 4 }), fc.nat(4), async (number, extras, at) => {
          const pieces = [...extras];
          pieces.splice(Math.min(at, pieces.length), 0, `number=${number}`);
          const r = await get(agent, svc.port, `/v1/check?${pieces.join('&')}`);
          expect(r.status).not.toBe(500);
          expect(r.body).not.toBe('allow');
          if (r.headers['content-type']?.toString().startsWith('application/json') === true && r.status === 200) expect(JSON.parse(r.body)).toMatchObject({ verdict: 'block' });
        }),
        { numRuns: 300 },
      );
      expect((await get(agent, svc.port, '/v1/check?number=0612000030&format=text')).body).toBe('allow');
    } finally {
      agent.destroy();
      await svc.stop();
    }
  });

  it('check and opt-out tokens', async () => {
    const dir = tempDir();
    const svc = await startEmbedded(['--config', setup(dir), '--block-list', 'bloctel', '--check-token', 'ck+/=', '--optout-token', 'oo'], {}, { now: () => TUESDAY_11H });
    const port = svc.port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const text = { accept: 'text/plain' };
    try {
      expect(await get(agent, port, '/v1/check?number=+33612000030&campaign=plain', text)).toMatchObject({ status: 401, body: 'error unauthorized' });
      expect(await get(agent, port, '/v1/check?number=+33612000030&campaign=plain', { ...text, authorization: 'Bearer ck+/=' })).toMatchObject({ status: 200, body: 'allow' });
      // The token in the query is read like the number: `+` is a plus, `%2B` too.
      expect(await get(agent, port, '/v1/check?number=+33612000030&campaign=plain&token=ck+/=', text)).toMatchObject({ status: 200, body: 'allow' });
      expect(await get(agent, port, '/v1/check?number=+33612000030&campaign=plain&token=ck%2B%2F%3D', text)).toMatchObject({ status: 200, body: 'allow' });
      expect(await get(agent, port, '/v1/check?number=+33612000030&campaign=plain&token=oo', text)).toMatchObject({ status: 401 });
      // The socket takes the same token.
      await expect(CheckClient.connect(svc.url)).rejects.toThrow(/401/);
      const c = await CheckClient.connect(`${svc.url}?client=dialer-1&token=ck%2B%2F%3D`);
      expect(await c.request({ op: 'check', number: '+33612000030', campaign: 'plain' })).toMatchObject({ verdict: 'allow' });
      await c.close();
      const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/plain' };
      expect(await get(agent, port, '/v1/optout', form, 'POST', 'number=+33612000070')).toMatchObject({ status: 401, body: 'error unauthorized' });
      expect(await get(agent, port, '/v1/optout', form, 'POST', 'number=+33612000070&token=ck+/=')).toMatchObject({ status: 401 });
      expect(await get(agent, port, '/v1/optout', { ...form, authorization: 'Bearer oo' }, 'POST', 'number=+33612000070')).toMatchObject({ status: 200, body: 'ok' });
      expect(await get(agent, port, '/v1/check?number=+33612000070&campaign=plain&token=ck+/=', text)).toMatchObject({ body: 'block bloctel' });
    } finally {
      agent.destroy();
      await svc.stop();
    }
  });
});

describe('HTTP doors, Redis mode', () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(SHARED_REDIS_URL, p);
  });

  it('answer exactly what the socket answers: replies, audit records, stats', async () => {
    const prefix = uniquePrefix('cghttp');
    prefixes.push(prefix);
    const dir = tempDir();
    const auditDir = tempDir('callgate-audit-');
    const svc = await startRedisMode(SHARED_REDIS_URL, prefix, ['--config', setup(dir), '--audit-dir', auditDir], { now: () => TUESDAY_11H });
    let perSide = 0;
    try {
      perSide = await sameOverBoth(svc);
    } finally {
      await svc.stop();
    }
    assertSameAudit(auditDir, perSide);
  });
});
