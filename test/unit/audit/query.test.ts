import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/audit/writer.js';
import type { AuditEvent, AuditRecord } from '../../../src/audit/record.js';
import { auditFileName } from '../../../src/audit/rotation.js';
import { formatAuditRecord, queryAudit } from '../../../src/audit/query.js';
import { isCallgateError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';

const X = '+33612345678';
const Y = '+33798765432';
const H = 3_600_000;
const T0 = Date.parse('2026-11-29T09:00:00.000Z');

function check(number: string, at: number, verdict: 'allow' | 'block' = 'allow'): AuditEvent {
  return verdict === 'allow'
    ? { type: 'check', at: new Date(at).toISOString(), number, campaign: 'winter', policy: 'fr-optin', verdict, reason: 'consent', basis: 'consent', dial: true, generations: { bloctel: 'g1', consents: 'c1' } }
    : { type: 'check', at: new Date(at).toISOString(), number, campaign: 'winter', policy: 'fr-optin', verdict, reason: 'bloctel', generations: { bloctel: 'g2', consents: 'c1' } };
}

/** Writes `events` with an AuditLog whose clock follows each event's `at` (days rotate and gzip as in production). */
async function host(dir: string, instanceId: string, events: readonly AuditEvent[]): Promise<void> {
  const clock = { ms: Date.parse(events[0]?.at ?? '2026-01-01T00:00:00Z') };
  const log = await AuditLog.open({ dir, instanceId, now: () => clock.ms, logger: silentLogger() });
  for (const e of events) {
    clock.ms = Date.parse(e.at);
    log.write(e);
    await log.flush();
  }
  await log.close();
}

async function twoHosts(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'callgate-audit-query-'));
  const a = join(root, 'host-a');
  const b = join(root, 'collected', 'host-b');
  mkdirSync(b, { recursive: true });
  // Host A: day 1 (gzipped by rotation), day 2, day 3.
  await host(a, 'a', [
    check(X, T0),
    check(Y, T0 + H),
    { type: 'batch', at: new Date(T0 + 2 * H).toISOString(), campaign: 'winter', policy: 'fr-optin', count: 100, blockedByReason: { bloctel: 3 }, generations: { bloctel: 'g1' } },
    check(X, T0 + 24 * H, 'block'),
    check(X, T0 + 48 * H),
  ]);
  // Host B: interleaved in time with A.
  await host(b, 'b', [
    check(X, T0 + 30 * 60_000),
    { type: 'outcome', at: new Date(T0 + 31 * 60_000).toISOString(), number: X, campaign: 'winter', outcome: 'refused' },
    check(Y, T0 + 25 * H),
    check(X, T0 + 26 * H),
  ]);
  return root;
}

describe('queryAudit', () => {
  it('finds a number\'s checks and outcomes across hosts, subfolders and gzipped days, sorted by time', async () => {
    const root = await twoHosts();
    const { records, malformed, unreadable, files } = await queryAudit({ dirs: root, number: X });
    expect(files).toBe(5);
    expect(malformed).toBe(0);
    expect(unreadable).toEqual([]);
    expect(records.map((r) => [r.at, r.type, r.instance])).toEqual([
      ['2026-11-29T09:00:00.000Z', 'check', 'a'],
      ['2026-11-29T09:30:00.000Z', 'check', 'b'],
      ['2026-11-29T09:31:00.000Z', 'outcome', 'b'],
      ['2026-11-30T09:00:00.000Z', 'check', 'a'],
      ['2026-11-30T11:00:00.000Z', 'check', 'b'],
      ['2026-12-01T09:00:00.000Z', 'check', 'a'],
    ]);
    expect(records.every((r) => (r.type === 'check' || r.type === 'outcome') && r.number === X)).toBe(true);
  });

  it('takes several folders and a date range (inclusive, exact on `at`)', async () => {
    const root = await twoHosts();
    const { records } = await queryAudit({
      dirs: [join(root, 'host-a'), join(root, 'collected')],
      number: X,
      from: new Date('2026-11-29T09:30:00.000Z'),
      to: new Date('2026-11-30T09:00:00.000Z'),
    });
    expect(records.map((r) => r.at)).toEqual(['2026-11-29T09:30:00.000Z', '2026-11-29T09:31:00.000Z', '2026-11-30T09:00:00.000Z']);
  });

  it('skips files whose day (by name) is outside the range, with a day of margin', async () => {
    const root = mkdtempSync(join(tmpdir(), 'callgate-audit-query-'));
    const line = (at: string): string => `${JSON.stringify({ ...check(X, Date.parse(at)), instance: 'z' })}\n`;
    writeFileSync(join(root, auditFileName('z', '2026-01-10')), line('2026-01-10T10:00:00.000Z'));
    // Written just after midnight for a decision taken just before it: found through the margin.
    writeFileSync(join(root, auditFileName('z', '2026-01-12')), line('2026-01-11T23:59:59.990Z'));
    writeFileSync(join(root, auditFileName('z', '2026-01-20')), line('2026-01-20T10:00:00.000Z'));
    const r = await queryAudit({ dirs: root, number: X, from: new Date('2026-01-11T00:00:00Z'), to: new Date('2026-01-11T23:59:59.999Z') });
    expect(r.files).toBe(2);
    expect(r.records.map((x) => x.at)).toEqual(['2026-01-11T23:59:59.990Z']);
  });

  it('counts malformed lines and reads on; a truncated .gz keeps its readable lines', async () => {
    const root = mkdtempSync(join(tmpdir(), 'callgate-audit-query-'));
    const good = `${JSON.stringify({ ...check(X, T0), instance: 'm' })}\n`;
    const path = join(root, auditFileName('m', '2026-11-29'));
    writeFileSync(path, good);
    appendFileSync(path, '{"type":"check","at":"2026-11-29T09:0\n'); // torn write
    appendFileSync(path, 'garbage\n');
    appendFileSync(path, `{"type":"check","number":"${X}"}\n`); // mentions the number, not a record
    appendFileSync(path, `{"type":"check","number":"${X}",\n`);
    appendFileSync(path, good.replace('09:00:00', '10:00:00'));
    const gz = gzipSync(good.replace('"instance":"m"', '"instance":"n"').repeat(2000));
    writeFileSync(join(root, `${auditFileName('n', '2026-11-29')}.gz`), gz.subarray(0, gz.length - 20));
    const r = await queryAudit({ dirs: root, number: X });
    expect(r.malformed).toBe(4);
    expect(r.unreadable).toEqual([{ file: join(root, `${auditFileName('n', '2026-11-29')}.gz`), message: expect.any(String) as string }]);
    const fromM = r.records.filter((x) => x.instance === 'm');
    expect(fromM.map((x) => x.at)).toEqual(['2026-11-29T09:00:00.000Z', '2026-11-29T10:00:00.000Z']);
    expect(r.records.length).toBeGreaterThan(1000);
  });

  it('refuses a number that is not E.164 and a folder that does not exist', async () => {
    const e1 = await queryAudit({ dirs: tmpdir(), number: '0612345678' }).catch((e: unknown) => e);
    expect(isCallgateError(e1) && e1.code).toBe('CALLGATE_ERR_BAD_REQUEST');
    const e2 = await queryAudit({ dirs: join(tmpdir(), 'callgate-no-such-dir-x'), number: X }).catch((e: unknown) => e);
    expect(isCallgateError(e2) && e2.code).toBe('CALLGATE_ERR_CONFIG');
  });
});

describe('formatAuditRecord', () => {
  it('prints one line per record', () => {
    const block: AuditRecord = { ...(check(X, Date.parse('2026-11-30T09:12:03.123Z'), 'block') as AuditRecord & { type: 'check' }), retryAt: '2026-12-01T10:00:00+01:00', instance: 'web-1' };
    expect(formatAuditRecord(block)).toBe(
      '2026-11-30T09:12:03.123Z  check  +33612345678  campaign=winter  policy=fr-optin  block  bloctel  retryAt=2026-12-01T10:00:00+01:00  generations=bloctel@g2,consents@c1  instance=web-1',
    );
    const allow: AuditRecord = { ...check(X, T0), instance: 'web-1' };
    expect(formatAuditRecord(allow)).toBe('2026-11-29T09:00:00.000Z  check  +33612345678  campaign=winter  policy=fr-optin  allow  consent  dial=yes  generations=bloctel@g1,consents@c1  instance=web-1');
    expect(formatAuditRecord({ type: 'check', at: 'T', number: null, input: 'abc', campaign: null, policy: 'p', verdict: 'block', reason: 'invalid_number', generations: {}, instance: 'i' })).toBe(
      'T  check  invalid:"abc"  campaign=-  policy=p  block  invalid_number  generations=-  instance=i',
    );
    expect(formatAuditRecord({ type: 'outcome', at: 'T', number: X, campaign: 'w', outcome: 'no_answer', instance: 'i' })).toBe('T  outcome  +33612345678  campaign=w  no_answer  instance=i');
    expect(formatAuditRecord({ type: 'batch', at: 'T', campaign: 'w', policy: 'p', count: 9, blockedByReason: { bloctel: 2 }, generations: { bloctel: 'g' }, instance: 'i' })).toBe(
      'T  batch  count=9  campaign=w  policy=p  blocked=bloctel:2  generations=bloctel@g  instance=i',
    );
  });
});

describe('queryAudit and the why record', () => {
  it('finds a why under each of its readings, and counts records of a newer kind or version apart from malformed lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callgate-audit-why-'));
    await host(dir, 'a', [
      check(X, T0),
      { type: 'why', v: 1, at: new Date(T0 + H).toISOString(), readings: [X, '+687751234'], who: 'alice@host', verdicts: { '(default)': 'block:bloctel' } },
      { type: 'why', v: 1, at: new Date(T0 + 2 * H).toISOString(), readings: [Y], who: 'bob@host', verdicts: {} },
    ]);
    const day = join(dir, auditFileName('a', '2026-11-29'));
    // What a later build might write: a kind this one does not know, and a why of a later version.
    appendFileSync(day, `${JSON.stringify({ type: 'inspection', at: new Date(T0 + 3 * H).toISOString(), number: X, instance: 'a' })}\n`);
    appendFileSync(day, `${JSON.stringify({ type: 'why', v: 2, at: new Date(T0 + 3 * H).toISOString(), readings: [X], asked: { by: 'x' }, instance: 'a' })}\n`);
    const x = await queryAudit({ dirs: dir, number: X });
    expect(x.records.map((r) => r.type)).toEqual(['check', 'why']);
    expect(x.newer).toBe(2);
    expect(x.malformed).toBe(0);
    expect(formatAuditRecord(x.records[1] as AuditRecord)).toBe(`2026-11-29T10:00:00.000Z  why  ${X},+687751234  who=alice@host  verdicts=(default):block:bloctel  instance=a`);
    const other = await queryAudit({ dirs: dir, number: '+687751234' });
    expect(other.records.map((r) => r.type)).toEqual(['why']);
    expect((await queryAudit({ dirs: dir, number: Y })).records.map((r) => r.type)).toEqual(['why']);
  });
});
