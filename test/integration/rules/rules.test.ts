/**
 * French calling rules through the real server and the real Redis: consent and contract allow-lists,
 * deny over consent, sector bans, hours with retryAt on an injected clock, dial counting raced by two
 * sidecars, refusals, counters surviving a restart, and the audit trail answering for a number.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { startEmbedded, tempDir, writeList } from '../../helpers/service.js';
import { runCli } from '../../helpers/spawn-cli.js';
import { writeConfig } from '../../helpers/config-file.js';

// Tuesday 1 December 2026, 11:00 in Paris (10:00Z): inside the calling hours.
const TUESDAY_11H = Date.parse('2026-12-01T10:00:00Z');
// Saturday 5 December 2026, 11:00 in Paris.
const SATURDAY = Date.parse('2026-12-05T10:00:00Z');

function config(dir: string): string {
  const lists = {
    bloctel: writeList(['0612000001', '0612000002'], 'bloctel.txt', dir),
    consents: writeList(['0612000002', '0612000003', '0612000010'], 'consents.txt', dir),
    customers: writeList(['0612000004', '0612000001', '0612000005'], 'customers.txt', dir),
  };
  const file = writeConfig(dir, {
    lists: [
      { name: 'bloctel', kind: 'deny', source: lists.bloctel },
      { name: 'internal', kind: 'deny' },
      { name: 'consents', kind: 'allow', role: 'consent', source: lists.consents },
      { name: 'customers', kind: 'allow', role: 'contract', source: lists.customers },
    ],
    policies: { 'optin-bloctel-contract': { base: 'fr-optin', contractExceptionLists: ['bloctel'] } },
    campaigns: {
      winter: { policy: 'fr-optin' },
      legacy: { policy: 'fr-optout' },
      reno: { policy: 'fr-optin', sector: 'energy_renovation' },
      renewals: { policy: 'optin-bloctel-contract' },
    },
  });
  return file;
}

describe('French rules in Redis mode', () => {
  const prefix = uniquePrefix();
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  it('applies consent, contract, deny-over-consent, sector bans and hours in the documented order', async () => {
    const dir = tempDir();
    let now = TUESDAY_11H;
    const svc = await startRedisMode(SHARED_REDIS_URL, `${prefix}a:`, ['--config', config(dir)], { now: () => now });
    const c = await CheckClient.connect(svc.url);
    const check = (number: string, campaign: string | null): Promise<Record<string, unknown>> => c.request(campaign === null ? { op: 'check', number } : { op: 'check', number, campaign });
    try {
      expect(await check('0612000003', 'winter')).toMatchObject({ verdict: 'allow', reason: 'consent', basis: 'consent', number: '+33612000003' });
      expect(await check('0612000004', 'winter')).toMatchObject({ verdict: 'allow', reason: 'contract', basis: 'contract' });
      expect(await check('0612000099', 'winter')).toMatchObject({ verdict: 'block', reason: 'no_consent' });
      // A deny-list beats consent: an opposition after a consent revokes it.
      expect(await check('0612000002', 'winter')).toMatchObject({ verdict: 'block', reason: 'bloctel' });
      // fr-optout: no consent needed, deny-lists still apply.
      expect(await check('0612000099', 'legacy')).toMatchObject({ verdict: 'allow', reason: 'not_listed' });
      // A contract lifts Bloctel only where the policy says so.
      expect(await check('0612000001', 'winter')).toMatchObject({ verdict: 'block', reason: 'bloctel' });
      expect(await check('0612000001', 'renewals')).toMatchObject({ verdict: 'allow', reason: 'contract' });
      // A banned sector blocks everyone except under a contract.
      expect(await check('0612000003', 'reno')).toMatchObject({ verdict: 'block', reason: 'sector_ban' });
      expect(await check('0612000005', 'reno')).toMatchObject({ verdict: 'allow', reason: 'contract' });
      // No campaign: the default policy, deny-lists.
      expect(await check('0612000099', null)).toMatchObject({ verdict: 'allow', reason: 'not_listed' });
      expect(await check('not a number', 'winter')).toMatchObject({ verdict: 'block', reason: 'invalid_number' });
      // An intraday opt-out on the internal list beats consent at once.
      const added = await fetch(`http://127.0.0.1:${svc.port}/admin/lists/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ list: 'internal', numbers: ['0612000010'], who: 'agent-1' }) });
      expect(added.status).toBe(200);
      expect(await check('0612000010', 'winter')).toMatchObject({ verdict: 'block', reason: 'internal' });

      now = SATURDAY;
      expect(await check('0612000003', 'winter')).toMatchObject({ verdict: 'block', reason: 'outside_hours', retryAt: '2026-12-07T10:00:00+01:00' });
      // Deny-lists come before hours in the order.
      expect(await check('0612000002', 'winter')).toMatchObject({ verdict: 'block', reason: 'bloctel' });
      // Christmas day, a Friday: a holiday.
      now = Date.parse('2026-12-25T10:00:00Z');
      expect(await check('0612000003', 'winter')).toMatchObject({ verdict: 'block', reason: 'holiday', retryAt: '2026-12-28T10:00:00+01:00' });
    } finally {
      await c.close();
      await svc.stop();
    }
  });

  it('two sidecars racing dial checks never let a fifth attempt through; counters survive a restart; a refusal blocks', async () => {
    const dir = tempDir();
    const p = `${prefix}b:`;
    const now = (): number => TUESDAY_11H;
    const a = await startRedisMode(SHARED_REDIS_URL, p, ['--config', config(dir)], { now });
    const b = await startRedisMode(SHARED_REDIS_URL, p, ['--config', config(dir)], { now });
    const ca = await CheckClient.connect(a.url);
    const cb = await CheckClient.connect(b.url);
    try {
      const dials = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? ca : cb).request({ op: 'check', number: '0612000003', campaign: 'winter', dial: true })),
      );
      const allowed = dials.filter((r) => r['verdict'] === 'allow');
      expect(allowed).toHaveLength(4);
      for (const r of dials.filter((x) => x['verdict'] === 'block')) expect(r).toMatchObject({ reason: 'frequency_cap', retryAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/) });
      // A check without dial is a question, not an attempt: still capped, but it counts nothing.
      expect(await ca.request({ op: 'check', number: '0612000004', campaign: 'winter' })).toMatchObject({ verdict: 'allow' });
      expect(await ca.request({ op: 'check', number: '0612000004', campaign: 'winter', dial: true })).toMatchObject({ verdict: 'allow' });
      // Batches cannot dial.
      expect(await ca.request({ op: 'check', numbers: ['0612000004'], campaign: 'winter', dial: true })).toMatchObject({ error: { code: 'bad_request' } });

      // A refusal during the call: no call nor attempt for 60 days.
      expect(await cb.request({ op: 'outcome', number: '06 12 00 00 04', campaign: 'winter', outcome: 'refused' })).toMatchObject({ ok: true, number: '+33612000004' });
      expect(await ca.request({ op: 'check', number: '0612000004', campaign: 'winter', dial: true })).toMatchObject({ verdict: 'block', reason: 'refused_recently' });

      await ca.close();
      await a.stop();
      const a2 = await startRedisMode(SHARED_REDIS_URL, p, ['--config', config(dir)], { now });
      const ca2 = await CheckClient.connect(a2.url);
      expect(await ca2.request({ op: 'check', number: '0612000003', campaign: 'winter', dial: true })).toMatchObject({ verdict: 'block', reason: 'frequency_cap' });
      expect(await ca2.request({ op: 'check', number: '0612000004', campaign: 'winter' })).toMatchObject({ verdict: 'block', reason: 'refused_recently' });
      await ca2.close();
      await a2.stop();
    } finally {
      await cb.close();
      await b.stop();
    }
  });

  it('`callgate audit` finds every decision and outcome of a number', async () => {
    const dir = tempDir();
    const auditDir = tempDir('callgate-audit-');
    const svc = await startRedisMode(SHARED_REDIS_URL, `${prefix}c:`, ['--config', config(dir), '--audit-dir', auditDir, '--instance-id', 'host-1'], { now: () => TUESDAY_11H });
    const c = await CheckClient.connect(svc.url);
    await c.request({ op: 'check', number: '0612000003', campaign: 'winter', dial: true });
    await c.request({ op: 'check', number: '+33 6 12 00 00 02', campaign: 'winter' });
    await c.request({ op: 'check', number: '0612000003', campaign: 'legacy' });
    await c.request({ op: 'outcome', number: '612000003', campaign: 'winter', outcome: 'no_answer' });
    await c.request({ op: 'check', numbers: ['0612000003', '0612000002'], campaign: 'winter' });
    await c.close();
    await svc.stop(); // a clean shutdown flushes the trail

    const r = await runCli(['audit', '06 12 00 00 03', '--dir', auditDir]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/check {2}\+33612000003 {2}campaign=winter {2}policy=fr-optin {2}allow {2}consent .*dial=yes {2}consent=consents:valid {2}generations=.*bloctel@/);
    expect(lines[1]).toMatch(/check {2}\+33612000003 {2}campaign=legacy {2}policy=fr-optout {2}allow/);
    expect(lines[2]).toMatch(/outcome {2}\+33612000003 {2}campaign=winter {2}no_answer {2}instance=host-1/);
    const other = await runCli(['audit', '+33612000002', '--dir', auditDir, '--from', '2020-01-01']);
    expect(other.stdout).toMatch(/block {2}bloctel/);
  });
});

describe('rules policies in embedded mode', () => {
  it('refuse to start when a policy counts attempts (it needs Redis)', async () => {
    const dir = tempDir();
    const err = await startEmbedded(['--config', config(dir)]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CALLGATE_ERR_NEEDS_REDIS' });
    const cli = await runCli(['serve', '--port', '0', '--config', config(dir)]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/needs Redis mode.*CALLGATE_ERR_NEEDS_REDIS/);
  });
});
