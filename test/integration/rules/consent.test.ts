/**
 * Consent terms through the real server, in both modes on the same cases (so the embedded rule in
 * rules/consent-terms.ts and its mirror in the Redis script cannot drift): when and how consent was given
 * reach the audit trail, an expired consent does not allow, a bad consent line is counted and grants
 * nothing, a revocation is effective at once on every sidecar and outlives a refresh of the file that
 * still lists the number, and a consent given again (a newer date in the file, or `list add`) lifts it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { markerKey } from '../../../src/redis/keys.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { redisCli } from '../../helpers/redis-server.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { startEmbedded, tempDir } from '../../helpers/service.js';
import { runCli } from '../../helpers/spawn-cli.js';
import { writeConsentConfig } from '../../helpers/list-files.js';

// Tuesday 1 December 2026, 11:00 in Paris: inside the calling hours (the clock of the hours rule).
const TUESDAY_11H = Date.parse('2026-12-01T10:00:00Z');
// Expiries far from both the injected clock and the real one (Redis judges expiry on its own clock).
const LONG_AGO = '2026-06-01';
const FAR_AHEAD = '2030-01-01T00:00:00Z';

const VALID = '0612000020';
const EXPIRED = '0612000021';
const BAD_DATE = '0612000022';
const BARE = '0612000023';

/** 300 filler consents keep one bad line under the 1% bad-line guard. */
function consentLines(extra: readonly string[] = []): string[] {
  return [
    'number;consented_at;source;proof;expires_at',
    `${VALID};2026-09-01T10:00:00+02:00;web:signup-v3;proof-20;${FAR_AHEAD}`,
    `${EXPIRED};2025-06-01;call:agent-7;rec-21;${LONG_AGO}`,
    `${BAD_DATE};not-a-date;web;proof-22;`,
    BARE,
    ...Array.from({ length: 300 }, (_, i) => `06${String(30_000_000 + i)};2026-10-01;web;p${i};`),
    ...extra,
  ];
}

function setup(dir: string, embedded: boolean): { config: string; consents: string } {
  const consents = join(dir, 'consents.csv');
  writeFileSync(consents, `${consentLines().join('\n')}\n`);
  const bloctel = join(dir, 'bloctel.txt');
  writeFileSync(bloctel, '0699999999\n');
  // Embedded mode keeps no counters: an opt-in policy without caps or refusals runs there.
  const config = writeConsentConfig(dir, { bloctel, consents }, { policies: embedded ? { optin: { base: 'fr-optin', frequencyCap: null, refusalDays: null } } : { optin: { base: 'fr-optin' } }, campaigns: { winter: { policy: 'optin' } } });
  return { config, consents };
}

type Post = (path: string, body: unknown) => Promise<Record<string, unknown>>;

function poster(port: number): Post {
  return async (path, body) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await r.json()) as Record<string, unknown>;
  };
}

async function runCases(opts: {
  clients: readonly CheckClient[];
  post: Post;
  consents: string;
  /** An instant just after the revocations recorded so far, on the clock that records them. */
  justAfter: () => Promise<string>;
  /** Lets that clock move on (a later revocation is later than a consent dated justAfter()). */
  advance: () => Promise<void>;
}): Promise<void> {
  const [first, ...others] = opts.clients as [CheckClient, ...CheckClient[]];
  const checkOn = (c: CheckClient, number: string): Promise<Record<string, unknown>> => c.request({ op: 'check', number, campaign: 'winter' });
  const everywhere = async (number: string): Promise<Array<Record<string, unknown>>> => Promise.all(opts.clients.map((c) => checkOn(c, number)));

  expect(await checkOn(first, VALID)).toMatchObject({ verdict: 'allow', reason: 'consent' });
  expect(await checkOn(first, BARE)).toMatchObject({ verdict: 'allow', reason: 'consent' });
  expect(await checkOn(first, EXPIRED)).toMatchObject({ verdict: 'block', reason: 'no_consent' });
  // A line whose date cannot be read is bad: counted, and the number is not taken as consenting.
  expect(await checkOn(first, BAD_DATE)).toMatchObject({ verdict: 'block', reason: 'no_consent' });
  // The proof is for the audit trail, never in the reply to the dialer.
  expect(await checkOn(first, VALID)).not.toHaveProperty('consent');

  // A revocation blocks at once on every sidecar, though the file still lists the number.
  expect(await opts.post('/admin/lists/remove', { list: 'consents', numbers: [VALID], who: 'crm' })).toMatchObject({ ok: true });
  for (const r of await everywhere(VALID)) expect(r).toMatchObject({ verdict: 'block', reason: 'no_consent' });

  // A refresh of a file that still carries the old consent does not bring it back.
  writeFileSync(opts.consents, `${consentLines(['0612000030']).join('\n')}\n`);
  expect(await opts.post('/admin/refresh?list=consents', {})).toMatchObject({ outcomes: [{ status: 'loaded' }] });
  for (const r of await everywhere(VALID)) expect(r).toMatchObject({ verdict: 'block', reason: 'no_consent' });

  // A consent given again after the revocation, dated so in the next file, stands.
  writeFileSync(opts.consents, `${consentLines([`${VALID};${await opts.justAfter()};web:renewed;proof-20b;`]).join('\n')}\n`);
  expect(await opts.post('/admin/refresh?list=consents', {})).toMatchObject({ outcomes: [{ status: 'loaded' }] });
  // The other sidecars switch to the new generation a few ms later (pub/sub), not in the same instant.
  await expect.poll(async () => (await everywhere(VALID)).map((r) => r['reason']), { timeout: 5000, interval: 50 }).toEqual(opts.clients.map(() => 'consent'));

  // Revoked again, then granted during the day with `list add`: the grant lifts the revocation.
  await opts.advance();
  await opts.post('/admin/lists/remove', { list: 'consents', numbers: [VALID], who: 'crm' });
  expect(await checkOn(others[0] ?? first, VALID)).toMatchObject({ verdict: 'block', reason: 'no_consent' });
  await opts.post('/admin/lists/add', { list: 'consents', numbers: [VALID], who: 'crm' });
  for (const r of await everywhere(VALID)) expect(r).toMatchObject({ verdict: 'allow', reason: 'consent' });
  // An expired consent granted again during the day counts again too.
  await opts.post('/admin/lists/add', { list: 'consents', numbers: [EXPIRED], who: 'crm' });
  for (const r of await everywhere(EXPIRED)) expect(r).toMatchObject({ verdict: 'allow', reason: 'consent' });
}

async function expectAuditedTerms(auditDir: string): Promise<void> {
  const valid = await runCli(['audit', VALID, '--dir', auditDir]);
  expect(valid.code).toBe(0);
  const lines = valid.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/allow {2}consent .*consent=consents:valid\(at=2026-09-01T08:00:00\.000Z,source=web:signup-v3,proof=proof-20,expires=2030-01-01T00:00:00\.000Z\)/);
  expect(lines.some((l) => /block {2}no_consent .*consent=consents:revoked\(at=2026-09-01T08:00:00\.000Z/.test(l))).toBe(true);
  expect(lines.some((l) => /allow {2}consent .*consent=consents:valid\(at=[^)]*source=web:renewed,proof=proof-20b\)/.test(l))).toBe(true);
  const expired = await runCli(['audit', EXPIRED, '--dir', auditDir]);
  expect(expired.stdout).toMatch(/block {2}no_consent .*consent=consents:expired\(at=2025-05-31T22:00:00\.000Z,source=call:agent-7,proof=rec-21,expires=2026-05-31T22:00:00\.000Z\)/);
}

describe('consent terms, expiry and revocation', () => {
  const prefix = uniquePrefix();
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  it('in Redis mode, across two sidecars', async () => {
    const dir = tempDir();
    const auditDir = tempDir('callgate-audit-');
    const { config, consents } = setup(dir, false);
    const p = `${prefix}r:`;
    const now = (): number => TUESDAY_11H;
    const a = await startRedisMode(SHARED_REDIS_URL, p, ['--config', config, '--audit-dir', auditDir, '--instance-id', 'a'], { now });
    const b = await startRedisMode(SHARED_REDIS_URL, p, ['--config', config, '--audit-dir', auditDir, '--instance-id', 'b'], { now });
    const ca = await CheckClient.connect(a.url);
    const cb = await CheckClient.connect(b.url);
    try {
      // Revocations are on Redis's clock.
      const justAfter = async (): Promise<string> => new Date((await a.store.connection.now()) + 1).toISOString();
      const advance = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
      await runCases({ clients: [ca, cb], post: poster(a.port), consents, justAfter, advance });
      // A consent hit whose generation vanished cannot allow, and says why.
      const generation = a.registry.current.slots.find((s) => s.spec.name === 'consents')?.state?.generation ?? '';
      await redisCli(SHARED_REDIS_URL, ['DEL', markerKey(p, 'consents', generation)]);
      expect(await ca.request({ op: 'check', number: BARE, campaign: 'winter' })).toMatchObject({ verdict: 'block', reason: 'unconfirmed' });
    } finally {
      await ca.close();
      await cb.close();
      await a.stop();
      await b.stop();
    }
    await expectAuditedTerms(auditDir);
  });

  it('`callgate load` writes the terms with the generation; a sidecar taking it over judges them', async () => {
    const dir = tempDir();
    const { config } = setup(dir, false);
    const p = `${prefix}l:`;
    const loaded = await runCli(['load', '--redis', SHARED_REDIS_URL, '--redis-prefix', p, '--list-settle-ms', '0', '--config', config]);
    expect(loaded.code).toBe(0);
    expect(loaded.stdout).toMatch(/consents: loaded generation \S+: 303 numbers .*1 bad lines \(first: 4\)/);
    const svc = await startRedisMode(SHARED_REDIS_URL, p, ['--config', config], { now: () => TUESDAY_11H });
    const c = await CheckClient.connect(svc.url);
    try {
      expect(await c.request({ op: 'check', number: VALID, campaign: 'winter' })).toMatchObject({ verdict: 'allow', reason: 'consent' });
      expect(await c.request({ op: 'check', number: EXPIRED, campaign: 'winter' })).toMatchObject({ verdict: 'block', reason: 'no_consent' });
    } finally {
      await c.close();
      await svc.stop();
    }
  });

  it('in embedded mode, on the injected clock', async () => {
    const dir = tempDir();
    const auditDir = tempDir('callgate-audit-');
    const { config, consents } = setup(dir, true);
    let now = TUESDAY_11H;
    const svc = await startEmbedded(['--config', config, '--audit-dir', auditDir], {}, { now: () => now });
    const c = await CheckClient.connect(svc.url);
    try {
      const justAfter = async (): Promise<string> => new Date(now + 1000).toISOString();
      const advance = async (): Promise<void> => {
        now += 60_000;
      };
      await runCases({ clients: [c], post: poster(svc.port), consents, justAfter, advance });
    } finally {
      await c.close();
      await svc.stop();
    }
    await expectAuditedTerms(auditDir);
  });
});
