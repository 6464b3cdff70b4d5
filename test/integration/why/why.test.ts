/**
 * `callgate why NUMBER` and GET /v1/why against the real server (spawned CLI, real sockets), in both modes on the
 * same cases: a number on a file list and added during the day to another, with consent terms (valid, expired,
 * revoked) and, in Redis mode, a refusal and attempts; the answer, the audit record it leaves, a server log
 * without any number, the admin token required, and attempt counts unchanged by a why.
 */
import { writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { WhyAnswer, WhyList } from '../../../src/why/answer.js';
import { attemptsKey } from '../../../src/redis/keys.js';
import { e164ToKey } from '../../../src/numbers/number-key.js';
import { redisCli } from '../../helpers/redis-server.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { tempDir } from '../../helpers/service.js';
import { runCli, spawnServe, waitFor, type SpawnedServer } from '../../helpers/spawn-cli.js';
import { writeConfig } from '../../helpers/config-file.js';

const TOKEN = 'why-admin-secret';
const CHECK_TOKEN = 'why-check-secret';

// On the bloctel file, added during the day to `internal`, and a valid consent.
const TARGET = '0612000040';
const TARGET_E164 = '+33612000040';
const EXPIRED = '0612000041';
const REVOKED = '0612000042';
// A consenting number with call history (Redis mode): two attempts, then a refusal.
const HISTORY = '0612000043';
const ALL_NUMBERS = [TARGET, EXPIRED, REVOKED, HISTORY];

function setup(dir: string, redis: boolean): string {
  const bloctel = join(dir, 'bloctel.txt');
  writeFileSync(bloctel, `${TARGET}\n0699999999\n`);
  const consents = join(dir, 'consents.csv');
  writeFileSync(
    consents,
    [
      'number;consented_at;source;proof;expires_at',
      `${TARGET};2026-09-01T10:00:00+02:00;web:signup-v3;proof-40;2030-01-01T00:00:00Z`,
      `${EXPIRED};2025-06-01;call:agent-7;rec-41;2026-06-01`,
      `${REVOKED};2026-09-02;web;proof-42;`,
      `${HISTORY};2026-09-03;web;proof-43;`,
      '',
    ].join('\n'),
  );
  // No calling hours: the verdicts must not depend on when the test runs. Embedded mode keeps no counters.
  const optin = redis ? { base: 'fr-optin', hours: false } : { base: 'fr-optin', hours: false, frequencyCap: null, refusalDays: null };
  const config = writeConfig(dir, {
    lists: [
      { name: 'bloctel', kind: 'deny', source: bloctel },
      { name: 'internal', kind: 'deny' },
      { name: 'consents', kind: 'allow', role: 'consent', source: consents },
    ],
    policies: { optin },
    campaigns: { winter: { policy: 'optin' } },
  });
  return config;
}

const byName = (a: WhyAnswer, list: string, reading = 0): WhyList => {
  const l = a.readings[reading]?.lists.find((x) => x.list === list);
  if (l === undefined) throw new Error(`no list ${list} in the answer`);
  return l;
};

async function why(port: number, number: string, token: string | null = TOKEN): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/why?number=${encodeURIComponent(number)}&who=tester`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function admin(port: number, path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
  return (await r.json()) as Record<string, unknown>;
}

async function httpCheck(port: number, path: string): Promise<Record<string, unknown>> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${CHECK_TOKEN}` } });
  return (await r.json()) as Record<string, unknown>;
}

async function runCases(mode: 'embedded' | 'redis', server: SpawnedServer, auditDir: string, attempts: (number: string) => Promise<number>): Promise<void> {
  const { port } = server;
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'readiness');
  const readyz = (await (await fetch(`${url}/readyz`)).json()) as { lists: Array<{ name: string; generation: string }> };
  const bloctelGeneration = readyz.lists.find((l) => l.name === 'bloctel')?.generation;

  // The day's changes, by named operators.
  expect((await runCli(['block', TARGET, '--url', url, '--token', TOKEN, '--who', 'alice'])).code).toBe(0);
  expect(await admin(port, '/admin/lists/remove', { list: 'consents', numbers: [REVOKED], who: 'crm' })).toMatchObject({ ok: true });
  // Blocked, then unblocked: the withdrawal and who made it.
  expect(await admin(port, '/admin/block', { numbers: [EXPIRED], who: 'dave' })).toMatchObject({ ok: true });
  expect(await admin(port, '/admin/unblock', { numbers: [EXPIRED], who: 'erin' })).toMatchObject({ ok: true });
  if (mode === 'redis') {
    // Two allowed dials (counted attempts), then a refusal.
    for (let i = 0; i < 2; i++) expect(await httpCheck(port, `/v1/check?number=${HISTORY}&campaign=winter&dial=1`)).toMatchObject({ verdict: 'allow', reason: 'consent' });
    const r = await fetch(`${url}/v1/outcome`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${CHECK_TOKEN}` }, body: JSON.stringify({ number: HISTORY, outcome: 'refused', campaign: 'winter' }) });
    expect(r.status).toBe(200);
  }

  // The admin token, nothing else.
  expect((await why(port, TARGET, null)).status).toBe(401);
  expect((await why(port, TARGET, CHECK_TOKEN)).status).toBe(401);
  const refusedCli = await runCli(['why', TARGET, '--url', url]);
  expect(refusedCli.code).toBe(2);
  expect(refusedCli.stderr).toMatch(/\[CALLGATE_ERR_UNAUTHORIZED\]/);
  // A bad number: a coded refusal, the input never echoed.
  const bad = await why(port, '12 34');
  expect(bad.status).toBe(400);
  expect(bad.body).toMatchObject({ error: { code: 'bad_request' } });
  const badCli = await runCli(['why', '12 34', '--url', url, '--token', TOKEN]);
  expect(badCli.code).toBe(2);
  expect(badCli.stderr).toMatch(/\[CALLGATE_ERR_BAD_REQUEST\]/);

  const before = await attempts(HISTORY);

  // The number on two deny-lists (a file, a day's addition) with a valid consent.
  const target = await why(port, '06 12 00 00 40');
  expect(target.status).toBe(200);
  const a = target.body as unknown as WhyAnswer;
  expect(a).toMatchObject({ v: 1, mode, input: '06 12 00 00 40' });
  expect(a.readings.map((r) => r.number)).toEqual([TARGET_E164]);
  expect(byName(a, 'bloctel')).toMatchObject({ holds: true, file: { listed: true, generation: bloctelGeneration, count: 2 }, added: null });
  expect(byName(a, 'bloctel').file?.source).toMatch(/bloctel\.txt$/);
  expect(byName(a, 'internal')).toMatchObject({ holds: true, file: { listed: false }, added: { who: 'alice' } });
  expect(byName(a, 'consents')).toMatchObject({
    holds: true,
    state: 'valid',
    role: 'consent',
    terms: { consentedAt: '2026-09-01T08:00:00.000Z', source: 'web:signup-v3', proof: 'proof-40', expiresAt: '2030-01-01T00:00:00.000Z' },
  });
  expect(a.readings[0]?.history).toEqual(mode === 'embedded' ? { kept: false } : { kept: true, answered: true, refusal: null, attempts: { windowDays: 30, count: 0, oldestAt: null } });
  expect(a.verdicts).toEqual([
    { campaign: null, policy: 'deny-lists', verdict: 'block', reason: 'bloctel' },
    { campaign: 'winter', policy: 'optin', verdict: 'block', reason: 'bloctel' },
  ]);

  // Consent states: expired by its terms, revoked during the day (by whom).
  const expired = (await why(port, EXPIRED)).body as unknown as WhyAnswer;
  expect(byName(expired, 'consents')).toMatchObject({ holds: false, state: 'expired', terms: { proof: 'rec-41' } });
  expect(expired.verdicts[1]).toMatchObject({ campaign: 'winter', verdict: 'block', reason: 'no_consent' });
  expect(byName(expired, 'internal')).toMatchObject({ holds: false, added: null, removed: { who: 'erin' } });
  const revoked = (await why(port, REVOKED)).body as unknown as WhyAnswer;
  expect(byName(revoked, 'consents')).toMatchObject({ holds: false, state: 'revoked', revoked: { who: 'crm' } });
  expect(revoked.verdicts[0]).toMatchObject({ campaign: null, verdict: 'allow', reason: 'not_listed' });

  if (mode === 'redis') {
    const history = (await why(port, HISTORY)).body as unknown as WhyAnswer;
    const h = history.readings[0]?.history;
    expect(h).toMatchObject({ kept: true, answered: true, attempts: { windowDays: 30, count: 2 } });
    expect(h !== undefined && h.kept && h.answered ? h.refusal : null).not.toBeNull();
    expect(history.verdicts[1]).toMatchObject({ campaign: 'winter', verdict: 'block', reason: 'refused_recently' });
    expect(history.verdicts[1]?.retryAt).toBeDefined();
  }
  // A why is no attempt: asked twice more, the counts have not moved.
  await why(port, HISTORY);
  await why(port, `+33${HISTORY.slice(1)}`);
  expect(await attempts(HISTORY)).toBe(before);

  // An ambiguous input (9 bare digits: France, or New Caledonia): each reading is reported.
  const ambiguous = (await why(port, '687751234')).body as unknown as WhyAnswer;
  expect(ambiguous.readings.map((r) => r.number)).toEqual(['+33687751234', '+687751234']);
  expect(ambiguous.readings.map((r) => r.verdicts[1]?.reason)).toEqual(['no_consent', 'no_consent']);
  expect(ambiguous.verdicts[0]).toMatchObject({ verdict: 'allow', reason: 'not_listed' });

  // The CLI: text by default, the raw answer with --json.
  const text = await runCli(['why', TARGET, '--url', url, '--token', TOKEN, '--who', 'carol']);
  expect(text.code, text.stderr).toBe(0);
  expect(text.stdout).toContain(TARGET_E164);
  expect(text.stdout).toMatch(/bloctel \(deny\): holds the number/);
  expect(text.stdout).toMatch(/added .* by alice/);
  expect(text.stdout).toMatch(/winter\s+optin\s+block\s+bloctel/);
  const json = await runCli(['why', TARGET, '--url', url, '--token', TOKEN, '--json']);
  expect(json.code).toBe(0);
  expect((JSON.parse(json.stdout) as WhyAnswer).readings[0]?.number).toBe(TARGET_E164);

  // Each why is on the audit trail, under the number, with who asked.
  const audited = await waitFor(async () => {
    const r = await runCli(['audit', TARGET, '--dir', auditDir]);
    return r.stdout.includes('who=carol') ? r.stdout : null;
  }, 'the why records on the audit trail');
  expect(audited).toMatch(/ why {2}\+33612000040 {2}who=tester {2}verdicts=\(default\):block:bloctel,winter:block:bloctel/);

  // The log says a why was answered, never for which number.
  expect(server.logs.some((l) => l['msg'] === 'why' && l['who'] === 'tester')).toBe(true);
  const logged = JSON.stringify(server.logs);
  for (const n of ALL_NUMBERS) {
    expect(logged).not.toContain(n.slice(1));
  }
}

describe('callgate why (embedded)', { timeout: 120_000 }, () => {
  it('answers lists, consent and each campaign\'s verdict; audited, no number logged, admin only', async () => {
    const dir = tempDir('callgate-why-');
    const auditDir = join(dir, 'audit');
    const server = await spawnServe(['--config', setup(dir, false), '--admin-token', TOKEN, '--check-token', CHECK_TOKEN, '--audit-dir', auditDir, '--journal', join(dir, 'journal.jsonl')]);
    try {
      await runCases('embedded', server, auditDir, () => Promise.resolve(0));
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

// An address of this machine other than loopback, to reach the sidecar "from the network".
const outside = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;

describe('callgate why without an admin token', { timeout: 60_000 }, () => {
  it.skipIf(outside === undefined)('answers loopback clients only: 403 from another address', async () => {
    const dir = tempDir('callgate-why-');
    const server = await spawnServe(['--config', setup(dir, false), '--host', '0.0.0.0']);
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${server.port}/readyz`)).status === 200, 'readiness');
      const far = await fetch(`http://${outside as string}:${server.port}/v1/why?number=${TARGET}`);
      expect(far.status).toBe(403);
      expect(await far.json()).toMatchObject({ error: { code: 'forbidden' } });
      expect((await fetch(`http://127.0.0.1:${server.port}/v1/why?number=${TARGET}`)).status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

describe('callgate why (Redis)', { timeout: 120_000 }, () => {
  const prefix = uniquePrefix('cgwhy');
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  it('answers lists, consent, refusal, attempts and verdicts; audited, no number logged, admin only, nothing counted', async () => {
    const dir = tempDir('callgate-why-');
    const auditDir = join(dir, 'audit');
    const server = await spawnServe(['--config', setup(dir, true), '--redis', SHARED_REDIS_URL, '--redis-prefix', prefix, '--admin-token', TOKEN, '--check-token', CHECK_TOKEN, '--audit-dir', auditDir]);
    const attempts = async (n: string): Promise<number> => Number(await redisCli(SHARED_REDIS_URL, ['ZCARD', attemptsKey(prefix, e164ToKey(`+33${n.slice(1)}`))]));
    try {
      await runCases('redis', server, auditDir, attempts);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});
