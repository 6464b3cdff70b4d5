/**
 * Golden bytes of the audit trail: one record of each kind, as the file holds it. The trail is proof kept
 * for years and read by `callgate audit` and by inspectors' tools: a refactor must not move a byte.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeAuditEvent, encodeCheckRecord, encodeCheckRecordOpen } from '../../../src/audit/record.js';
import { AuditLog } from '../../../src/audit/writer.js';
import { silentLogger } from '../../../src/core/logger.js';

const AT = Date.parse('2026-11-30T09:15:00.123Z');
const ISO = '2026-11-30T09:15:00.123Z';

const GOLDEN_CHECK =
  '{"type":"check","at":"2026-11-30T09:15:00.123Z","number":"+33612345678","campaign":"winter \\"26\\"","policy":"fr-optin","verdict":"allow","reason":"consent","basis":"consent","retryAt":"2026-11-30T10:00:00.000+01:00","dial":true,"consent":{"list":"consents","state":"valid","consentedAt":"2026-01-02T03:04:05.000Z","source":"web","proof":"ref-1","expiresAt":"2029-01-02T03:04:05.000Z"},"generations":{"bloctel":"g42","consents":"c7"},"instance":"host-a"}\n';
const GOLDEN_INVALID =
  '{"type":"check","at":"2026-11-30T09:15:00.123Z","number":null,"input":"0612\\u0000\\"é<xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","campaign":null,"policy":"fr","verdict":"block","reason":"invalid_number","generations":{},"instance":"host-a"}\n';
const GOLDEN_BATCH =
  '{"type":"batch","at":"2026-11-30T09:15:00.123Z","campaign":"winter","policy":"fr-optin","count":3,"blockedByReason":{"bloctel":1,"no_consent":1},"generations":{"bloctel":"g42"},"instance":"host-a"}\n';
const GOLDEN_OUTCOME = '{"type":"outcome","at":"2026-11-30T09:15:00.123Z","number":"+33612345678","campaign":"winter","outcome":"refused","instance":"host-a"}\n';

describe('audit record bytes (golden)', () => {
  it('writes each kind of record byte for byte as before', async () => {
    const d = mkdtempSync(join(tmpdir(), 'callgate-audit-golden-'));
    const log = await AuditLog.open({ dir: d, instanceId: 'host-a', now: () => AT, logger: silentLogger() });
    log.write({
      type: 'check',
      at: ISO,
      number: '+33612345678',
      campaign: 'winter "26"',
      policy: 'fr-optin',
      verdict: 'allow',
      reason: 'consent',
      basis: 'consent',
      retryAt: '2026-11-30T10:00:00.000+01:00',
      dial: true,
      consent: { list: 'consents', state: 'valid', consentedAt: '2026-01-02T03:04:05.000Z', source: 'web', proof: 'ref-1', expiresAt: '2029-01-02T03:04:05.000Z' },
      generations: { bloctel: 'g42', consents: 'c7' },
    });
    log.write({ type: 'check', at: ISO, number: null, input: `0612\u0000"é<${'x'.repeat(80)}`, campaign: null, policy: 'fr', verdict: 'block', reason: 'invalid_number', generations: {} });
    log.write({ type: 'batch', at: ISO, campaign: 'winter', policy: 'fr-optin', count: 3, blockedByReason: { bloctel: 1, no_consent: 1 }, generations: { bloctel: 'g42' } });
    log.write({ type: 'outcome', at: ISO, number: '+33612345678', campaign: 'winter', outcome: 'refused' });
    await log.close();
    expect(readFileSync(join(d, 'callgate-audit-host-a-2026-11-30.jsonl'), 'utf8')).toBe(GOLDEN_CHECK + GOLDEN_INVALID + GOLDEN_BATCH + GOLDEN_OUTCOME);
  });

  it('the check path\'s encoder writes the same bytes as the general one', async () => {
    const d = mkdtempSync(join(tmpdir(), 'callgate-audit-golden-'));
    const log = await AuditLog.open({ dir: d, instanceId: 'host-a', now: () => AT, logger: silentLogger() });
    const consent = { list: 'consents', state: 'valid', consentedAt: '2026-01-02T03:04:05.000Z', source: 'web', proof: 'ref-1', expiresAt: '2029-01-02T03:04:05.000Z' } as const;
    const allow = { verdict: 'allow', reason: 'consent', number: '+33612345678', basis: 'consent', retryAt: '2026-11-30T10:00:00.000+01:00', consent } as const;
    const hot = encodeCheckRecord(ISO, '0612345678', 'winter "26"', 'fr-optin', true, allow, JSON.stringify({ bloctel: 'g42', consents: 'c7' }));
    log.writeJson(hot);
    const invalid = { verdict: 'block', reason: 'invalid_number', number: null } as const;
    log.writeJson(encodeCheckRecord(ISO, `0612\u0000"é<${'x'.repeat(80)}`, null, 'fr', false, invalid, '{}'));
    // The check path's own call: the record without its brace, the same lines.
    log.writeJsonOpen(encodeCheckRecordOpen(ISO, '0612345678', 'winter "26"', 'fr-optin', true, allow, JSON.stringify({ bloctel: 'g42', consents: 'c7' })));
    log.writeJsonOpen(encodeCheckRecordOpen(ISO, `0612\u0000"é<${'x'.repeat(80)}`, null, 'fr', false, invalid, '{}'));
    await log.close();
    expect(readFileSync(join(d, 'callgate-audit-host-a-2026-11-30.jsonl'), 'utf8')).toBe(GOLDEN_CHECK + GOLDEN_INVALID + GOLDEN_CHECK + GOLDEN_INVALID);
    // And field for field what JSON.stringify of the record object gives (the reader's view).
    expect(hot).toBe(
      encodeAuditEvent({ type: 'check', at: ISO, number: '+33612345678', campaign: 'winter "26"', policy: 'fr-optin', verdict: 'allow', reason: 'consent', basis: 'consent', retryAt: allow.retryAt, dial: true, consent, generations: { bloctel: 'g42', consents: 'c7' } }),
    );
  });
});

describe('the why record (golden)', () => {
  const GOLDEN_WHY =
    '{"type":"why","v":1,"at":"2026-11-30T09:15:00.123Z","readings":["+33687751234","+687751234"],"who":"alice@host","verdicts":{"(default)":"allow:not_listed","winter":"block:no_consent"},"instance":"host-a"}\n';

  it('writes its numbers under `readings`, never `number`, so that an older reader passes over it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'callgate-audit-golden-'));
    const log = await AuditLog.open({ dir: d, instanceId: 'host-a', now: () => AT, logger: silentLogger() });
    log.write({ type: 'why', v: 1, at: ISO, readings: ['+33687751234', '+687751234'], who: 'alice@host', verdicts: { '(default)': 'allow:not_listed', winter: 'block:no_consent' } });
    await log.close();
    const text = readFileSync(join(d, 'callgate-audit-host-a-2026-11-30.jsonl'), 'utf8');
    expect(text).toBe(GOLDEN_WHY);
    expect(text).not.toContain('"number":');
  });
});
