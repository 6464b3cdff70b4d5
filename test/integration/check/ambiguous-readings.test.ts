/**
 * Inputs with two readings (numbers/normalise.ts rule 9: 9 bare digits are a French number missing its 0,
 * and may also be a calling code plus a short number) through the real server, in both modes:
 * an input is allowed only if every reading is, at every entry point — single checks on the
 * deny-lists fast path and under the rules (each reading's lists, consent and hours), batches, list
 * lines (deny: every reading listed; allow: the line grants nothing), `list add/remove`, outcomes.
 * On the code before rule 9 each case below answered `allow`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../../src/service.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { startEmbedded, tempDir } from '../../helpers/service.js';
import { writeConfig } from '../../helpers/config-file.js';

// Tuesday 1 December 2026, 11:00 in Paris (10:00 UTC): inside the calling hours in Paris (the zone of
// +33 and, by default, of foreign numbers), 07:00 in Saint-Pierre-et-Miquelon (+508): outside them.
const TUESDAY_11H = Date.parse('2026-12-01T10:00:00Z');

function setup(dir: string, embedded: boolean): string {
  const bloctel = join(dir, 'bloctel.txt');
  // Listed in + form: New Caledonia. Listed as 9 bare digits: both readings.
  writeFileSync(bloctel, ['+687751234', '508411234', '0699999999'].join('\n') + '\n');
  const consents = join(dir, 'consents.csv');
  writeFileSync(
    consents,
    [
      'number',
      '0687751234', // the French reading of 687751234 consented; its other reading is on bloctel
      '0508411299', // both readings of 508411299 consented; +508 is outside its hours at TUESDAY_11H
      '+508411299',
      '0687751277', // both readings of 687751277 consented (the outcome case)
      '+687751277',
      '681721234', // two readings: grants nothing (a bad line), not even to +33681721234
      // 300 filler consents keep that one bad line under the 1% bad-line guard.
      ...Array.from({ length: 300 }, (_, i) => `06${String(30_000_000 + i)}`),
    ].join('\n') + '\n',
  );
  const config = writeConfig(dir, {
    lists: [
      { name: 'bloctel', kind: 'deny', source: bloctel },
      { name: 'internal', kind: 'deny' },
      { name: 'consents', kind: 'allow', role: 'consent', source: consents },
    ],
    policies: embedded ? { optin: { base: 'fr-optin', frequencyCap: null, refusalDays: null } } : { optin: { base: 'fr-optin' } },
    campaigns: { winter: { policy: 'optin' } },
  });
  return config;
}

type Post = (path: string, body: unknown) => Promise<{ status: number; body: Record<string, unknown> }>;

function poster(port: number): Post {
  return async (path, body) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
}

function cases(mode: 'embedded' | 'redis'): void {
  let svc: RunningService;
  let client: CheckClient;
  let post: Post;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    const config = setup(tempDir(), mode === 'embedded');
    const args = ['--config', config];
    svc = mode === 'embedded' ? await startEmbedded(args, {}, { now: () => TUESDAY_11H }) : await startRedisMode(SHARED_REDIS_URL, prefix, args, { now: () => TUESDAY_11H });
    client = await CheckClient.connect(`ws://127.0.0.1:${svc.port}/`);
    post = poster(svc.port);
  });

  afterAll(async () => {
    await client.close();
    await svc.stop();
    if (mode === 'redis') await deletePrefix(SHARED_REDIS_URL, prefix);
  });

  const check = (number: string, campaign?: string): Promise<Record<string, unknown>> => client.request({ op: 'check', number, ...(campaign ? { campaign } : {}) });

  it('deny-lists fast path: blocks 9 bare digits whose + reading is listed, naming that reading', async () => {
    expect(await check('687751234')).toMatchObject({ verdict: 'block', reason: 'bloctel', number: '+687751234' });
    expect(await check('687 75 12 34')).toMatchObject({ verdict: 'block', reason: 'bloctel', number: '+687751234' });
    // Unambiguous writings keep their one reading.
    expect(await check('0687751234')).toMatchObject({ verdict: 'allow', number: '+33687751234' });
  });

  it('a deny-list line written as 9 bare digits lists both readings', async () => {
    expect(await check('+508411234')).toMatchObject({ verdict: 'block', reason: 'bloctel', number: '+508411234' });
    expect(await check('0508411234')).toMatchObject({ verdict: 'block', reason: 'bloctel', number: '+33508411234' });
  });

  it('a batch answers each input under every reading; an allow reports the primary reading', async () => {
    const r = await client.request({ op: 'check', numbers: ['687751234', '0612345679', '612345679'] });
    expect(r['results']).toEqual([
      { number: '+687751234', verdict: 'block', reason: 'bloctel' },
      { number: '+33612345679', verdict: 'allow', reason: 'not_listed' },
      { number: '+33612345679', verdict: 'allow', reason: 'not_listed' },
    ]);
  });

  it('rules: each reading with its own lists (consent for one, deny-list for the other)', async () => {
    expect(await check('0687751234', 'winter')).toMatchObject({ verdict: 'allow', basis: 'consent' });
    expect(await check('687751234', 'winter')).toMatchObject({ verdict: 'block', number: '+687751234' });
    const batch = await client.request({ op: 'check', campaign: 'winter', numbers: ['687751234'] });
    expect(batch['results']).toEqual([expect.objectContaining({ verdict: 'block', number: '+687751234' })]);
  });

  it("rules: each reading's calling hours in its own zone", async () => {
    expect(await check('0508411299', 'winter')).toMatchObject({ verdict: 'allow' });
    expect(await check('508411299', 'winter')).toMatchObject({ verdict: 'block', reason: 'outside_hours', number: '+508411299' });
  });

  it('an allow-list line with two readings grants nothing, not even its French reading', async () => {
    expect(await check('0681721234', 'winter')).toMatchObject({ verdict: 'block', reason: 'no_consent' });
    expect(await check('+681721234', 'winter')).toMatchObject({ verdict: 'block', reason: 'no_consent' });
  });

  it('list add on a deny-list lists every reading; remove and allow-list grants refuse an ambiguous input', async () => {
    expect(await post('/admin/lists/add', { list: 'internal', numbers: ['687751299'], who: 'test' })).toMatchObject({ status: 200, body: { ok: true, count: 2 } });
    expect(await check('+687751299')).toMatchObject({ verdict: 'block', reason: 'internal' });
    expect(await check('0687751299')).toMatchObject({ verdict: 'block', reason: 'internal' });
    // Removing one reading we cannot be sure of could allow the other: refused, nothing changed.
    expect(await post('/admin/lists/remove', { list: 'internal', numbers: ['0612345678', '687751299'], who: 'test' })).toMatchObject({ status: 400, body: { error: { code: 'ambiguous_number' } } });
    expect(await check('+687751299')).toMatchObject({ verdict: 'block', reason: 'internal' });
    // A consent must never reach a number it may not mean.
    expect(await post('/admin/lists/add', { list: 'consents', numbers: ['687751288'], who: 'test' })).toMatchObject({ status: 400, body: { error: { code: 'ambiguous_number' } } });
    // Revoking both readings only blocks more: applied.
    expect(await post('/admin/lists/remove', { list: 'consents', numbers: ['687751277'], who: 'test' })).toMatchObject({ status: 200, body: { ok: true, count: 2 } });
    expect(await check('+687751277', 'winter')).toMatchObject({ verdict: 'block', reason: 'no_consent' });
    expect(await check('0687751277', 'winter')).toMatchObject({ verdict: 'block', reason: 'no_consent' });
  });

  if (mode === 'redis') {
    it('a refusal of an ambiguous input is recorded under every reading', async () => {
      // Consent given again to both readings (a grant written unambiguously), then a refusal on the bare form.
      expect(await post('/admin/lists/add', { list: 'consents', numbers: ['+687751277', '0687751277'], who: 'test' })).toMatchObject({ status: 200 });
      expect(await check('+687751277', 'winter')).toMatchObject({ verdict: 'allow' });
      expect(await client.request({ op: 'outcome', number: '687751277', outcome: 'refused', campaign: 'winter' })).toMatchObject({ ok: true, number: '+33687751277' });
      expect(await check('+687751277', 'winter')).toMatchObject({ verdict: 'block', reason: 'refused_recently' });
      expect(await check('0687751277', 'winter')).toMatchObject({ verdict: 'block', reason: 'refused_recently' });
    });
  }
}

describe('ambiguous inputs, embedded mode', () => cases('embedded'));
describe('ambiguous inputs, Redis mode', () => cases('redis'));
