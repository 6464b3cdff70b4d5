/**
 * Proof lost (issue 11 item 9): the audit trail's file on a full disk — a real ENOSPC, the day's file being a
 * symlink to /dev/full — through the real server and the real Redis. Lost records are counted in /metrics, a
 * critical alert is raised, allows under a policy that needs its audit record block as `audit_unavailable`
 * (deny-lists keep allowing), and everything comes back when the disk frees up.
 */
import { readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditFileName, utcDay } from '../../../src/audit/rotation.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { tempDir, writeList } from '../../helpers/service.js';
import { waitFor } from '../../helpers/spawn-cli.js';

// Tuesday 1 December 2026, 11:00 in Paris: inside the calling hours of fr-optout.
const TUESDAY_11H = Date.parse('2026-12-01T10:00:00Z');

function metric(text: string, name: string): number | null {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m === null ? null : Number(m[1]);
}

describe('audit trail on a full disk', () => {
  const prefix = uniquePrefix();
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  it('counts lost records, alerts, blocks allows that need their record as audit_unavailable, and recovers', async () => {
    const dir = tempDir();
    const config = join(dir, 'callgate.json');
    writeFileSync(config, JSON.stringify({ lists: [{ name: 'bloctel', kind: 'deny', source: writeList(['0612000001'], 'bloctel.txt', dir) }], campaigns: { legacy: { policy: 'fr-optout' } } }));
    const auditDir = tempDir('callgate-audit-');
    const file = join(auditDir, auditFileName('host-1', utcDay(TUESDAY_11H)));
    symlinkSync('/dev/full', file);
    const svc = await startRedisMode(SHARED_REDIS_URL, prefix, ['--config', config, '--audit-dir', auditDir, '--instance-id', 'host-1', '--audit-max-pending-bytes', '65536'], { now: () => TUESDAY_11H });
    const c = await CheckClient.connect(svc.url);
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${svc.port}/metrics`)).text();
    const alert = async (): Promise<{ kind: string; severity: string } | undefined> => {
      const body = (await (await fetch(`http://127.0.0.1:${svc.port}/api/alerts`)).json()) as { alerts: { id: string; kind: string; severity: string }[] };
      return body.alerts.find((a) => a.id === 'audit_unavailable');
    };
    try {
      // The first write finds the disk full; from then on an fr-optout allow is refused, never given unrecorded.
      await waitFor(async () => (await c.request({ op: 'check', number: '0612000099', campaign: 'legacy' })).reason === 'audit_unavailable', 'allows to block as audit_unavailable');
      expect(await c.request({ op: 'check', number: '0612000099', campaign: 'legacy' })).toMatchObject({ verdict: 'block', reason: 'audit_unavailable', number: '+33612000099' });
      expect(await c.request({ op: 'check', numbers: ['0612000098', '0612000001'], campaign: 'legacy' })).toMatchObject({
        results: [
          { verdict: 'block', reason: 'audit_unavailable' },
          { verdict: 'block', reason: 'bloctel' },
        ],
      });
      // A deny-lists check does not need its record (policy setting off): it still answers.
      expect(await c.request({ op: 'check', number: '0612000099' })).toMatchObject({ verdict: 'allow', reason: 'not_listed' });
      // Past the 64 KiB bound records are lost, counted, never buffered without end.
      await Promise.all(Array.from({ length: 400 }, () => c.request({ op: 'check', number: '0612000097', campaign: 'legacy' })));
      const m = await metrics();
      expect(metric(m, 'callgate_audit_records_lost_total')).toBeGreaterThan(0);
      expect(metric(m, 'callgate_audit_writable')).toBe(0);
      expect(metric(m, 'callgate_audit_pending_bytes')).toBeLessThanOrEqual(65536);
      expect(await waitFor(alert, 'the audit_unavailable alert')).toMatchObject({ kind: 'audit_unavailable', severity: 'critical' });

      unlinkSync(file); // the disk frees up: the retry opens a real file
      await waitFor(async () => (await c.request({ op: 'check', number: '0612000099', campaign: 'legacy' })).verdict === 'allow', 'allows to come back');
      await waitFor(async () => (await alert()) === undefined, 'the alert to clear');
      expect(metric(await metrics(), 'callgate_audit_writable')).toBe(1);
    } finally {
      await c.close();
      await svc.stop();
    }
    const records = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { reason: string; verdict: string });
    // What was kept while the disk was full reached it once it freed up: the refusals are on record too.
    expect(records.some((r) => r.reason === 'audit_unavailable')).toBe(true);
    expect(records.some((r) => r.verdict === 'allow' && r.reason === 'not_listed')).toBe(true);
  });
});
