import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/audit/writer.js';
import type { AuditCheck, AuditEvent } from '../../../src/audit/record.js';
import { auditFileName, parseAuditFileName, sanitiseInstanceId } from '../../../src/audit/rotation.js';
import { isCallgateError } from '../../../src/core/errors.js';
import { createLogger, silentLogger } from '../../../src/core/logger.js';
import { waitFor } from '../../helpers/spawn-cli.js';

const DAY1 = Date.parse('2026-11-30T23:59:59.000Z');
const DAY2 = Date.parse('2026-12-01T00:00:01.000Z');

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'callgate-audit-test-'));
}

function check(n: number, at: number): AuditCheck {
  return {
    type: 'check',
    at: new Date(at).toISOString(),
    number: `+3361234${String(n).padStart(4, '0')}`,
    campaign: 'winter',
    policy: 'fr-optin',
    verdict: 'allow',
    reason: 'consent',
    basis: 'consent',
    dial: true,
    generations: { bloctel: 'g42', consents: 'c7' },
  };
}

function readLines(path: string): unknown[] {
  const buf = readFileSync(path);
  const text = path.endsWith('.gz') ? gunzipSync(buf).toString('utf8') : buf.toString('utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}

function capture(): { logger: ReturnType<typeof createLogger>; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as { level: string; msg: string });
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', instanceId: 'test', destination }), lines };
}

describe('AuditLog', () => {
  it('writes records, one JSON line each, with the instance added', async () => {
    const d = dir();
    const log = await AuditLog.open({ dir: d, instanceId: 'host-a', now: () => DAY1, logger: silentLogger() });
    log.write(check(1, DAY1));
    log.write({ type: 'check', at: new Date(DAY1).toISOString(), number: null, input: 'x'.repeat(100), campaign: null, policy: 'fr', verdict: 'block', reason: 'invalid_number', generations: {} });
    log.write({ type: 'outcome', at: new Date(DAY1).toISOString(), number: '+33612340001', campaign: 'winter', outcome: 'refused' });
    await log.flush();
    expect(log.stats()).toEqual({ written: 3, dropped: 0, pendingBytes: 0, failing: false });
    await log.close();
    const lines = readLines(join(d, 'callgate-audit-host-a-2026-11-30.jsonl'));
    expect(lines[0]).toEqual({ ...check(1, DAY1), instance: 'host-a' });
    expect(lines[1]).toMatchObject({ number: null, input: 'x'.repeat(40), instance: 'host-a' });
    expect(lines[2]).toMatchObject({ type: 'outcome', outcome: 'refused' });
  });

  it('rotates at the UTC day boundary: two files, the older gzipped', async () => {
    const d = dir();
    const clock = { ms: DAY1 };
    const log = await AuditLog.open({ dir: d, instanceId: 'host-a', now: () => clock.ms, logger: silentLogger() });
    for (let i = 0; i < 3; i++) log.write(check(i, clock.ms));
    await log.flush();
    clock.ms = DAY2;
    for (let i = 3; i < 5; i++) log.write(check(i, clock.ms));
    await log.close();
    expect(readdirSync(d).sort()).toEqual(['callgate-audit-host-a-2026-11-30.jsonl.gz', 'callgate-audit-host-a-2026-12-01.jsonl']);
    expect(readLines(join(d, 'callgate-audit-host-a-2026-11-30.jsonl.gz'))).toHaveLength(3);
    expect(readLines(join(d, 'callgate-audit-host-a-2026-12-01.jsonl'))).toHaveLength(2);
  });

  it('splits one buffer across the boundary by the time of write()', async () => {
    const d = dir();
    const clock = { ms: DAY1 };
    const log = await AuditLog.open({ dir: d, instanceId: 'h', now: () => clock.ms, logger: silentLogger() });
    log.write(check(1, clock.ms));
    clock.ms = DAY2;
    log.write(check(2, clock.ms));
    await log.close();
    expect(readLines(join(d, 'callgate-audit-h-2026-11-30.jsonl.gz'))).toEqual([expect.objectContaining({ number: '+33612340001' })]);
    expect(readLines(join(d, 'callgate-audit-h-2026-12-01.jsonl'))).toEqual([expect.objectContaining({ number: '+33612340002' })]);
  });

  it('rotates on a quiet midnight (no record after it) from its timer', async () => {
    const d = dir();
    const clock = { ms: DAY1 };
    const log = await AuditLog.open({ dir: d, instanceId: 'h', now: () => clock.ms, logger: silentLogger(), flushIntervalMs: 10 });
    log.write(check(1, clock.ms));
    await log.flush();
    clock.ms = DAY2;
    // Its timer rotates: wait for the rotation, not for a guess of how long a busy machine takes.
    await waitFor(() => readdirSync(d).join() === 'callgate-audit-h-2026-11-30.jsonl.gz', 'the quiet-midnight rotation', 10_000, 10);
    await log.close();
    expect(readdirSync(d)).toEqual(['callgate-audit-h-2026-11-30.jsonl.gz']);
    // It holds phone numbers: owner only, like the file it was compressed from.
    expect(statSync(join(d, 'callgate-audit-h-2026-11-30.jsonl.gz')).mode & 0o777).toBe(0o600);
  });

  it('loses nothing on close, whatever is buffered', async () => {
    const d = dir();
    const log = await AuditLog.open({ dir: d, instanceId: 'h', now: () => DAY1, logger: silentLogger(), flushBytes: 1 << 30, flushIntervalMs: 60_000 });
    for (let i = 0; i < 20_000; i++) log.write(check(i % 10_000, DAY1));
    expect(log.stats().written).toBe(0);
    await log.close();
    expect(log.stats()).toMatchObject({ written: 20_000, dropped: 0, pendingBytes: 0 });
    expect(readLines(join(d, 'callgate-audit-h-2026-11-30.jsonl'))).toHaveLength(20_000);
  });

  it('keeps records written while close() runs, counts those written after it', async () => {
    const d = dir();
    const log = await AuditLog.open({ dir: d, instanceId: 'h', now: () => DAY1, logger: silentLogger() });
    log.write(check(1, DAY1));
    const closing = log.close();
    log.write(check(2, DAY1));
    await closing;
    log.write(check(3, DAY1));
    expect(log.stats()).toMatchObject({ written: 2, dropped: 1 });
    expect(readLines(join(d, 'callgate-audit-h-2026-11-30.jsonl'))).toHaveLength(2);
  });

  it('flushes on its own past the size threshold', async () => {
    const d = dir();
    const log = await AuditLog.open({ dir: d, instanceId: 'h', now: () => DAY1, logger: silentLogger(), flushBytes: 4096, flushIntervalMs: 60_000 });
    for (let i = 0; i < 100; i++) log.write(check(i, DAY1));
    // flushIntervalMs is a minute: only the size threshold can have flushed these.
    await waitFor(() => log.stats().written > 0, 'a flush past the size threshold', 10_000, 10);
    await log.close();
    expect(log.stats().written).toBe(100);
  });

  it('deletes files past the retention (every instance) and keeps recent ones', async () => {
    const d = dir();
    const names = [
      auditFileName('h', '2023-11-29'), // 3 years + 1 day before 2026-11-30: deleted
      `${auditFileName('old-pid', '2023-06-01')}.gz`, // another (dead) instance: deleted too
      `${auditFileName('h', '2023-11-30')}.gz`, // exactly the retention: kept
      `${auditFileName('h', '2026-11-29')}.gz`,
      'notes.txt',
    ];
    for (const n of names) writeFileSync(join(d, n), n.endsWith('.gz') ? gzipSync('{}\n') : '{}\n');
    const log = await AuditLog.open({ dir: d, instanceId: 'h', retentionDays: 1096, now: () => DAY1, logger: silentLogger() });
    await log.close();
    expect(readdirSync(d).sort()).toEqual([`${auditFileName('h', '2023-11-30')}.gz`, `${auditFileName('h', '2026-11-29')}.gz`, 'notes.txt']);
  });

  it('compresses a leftover of a previous day at open (a crash), and a peer\'s only once it is idle', async () => {
    const d = dir();
    const mine = join(d, auditFileName('h', '2026-11-28'));
    const peerIdle = join(d, auditFileName('peer-1', '2026-11-28'));
    const peerLive = join(d, auditFileName('peer-2', '2026-11-29'));
    const torn = `${JSON.stringify({ ...check(1, DAY1 - 2 * 86_400_000), instance: 'h' })}\n{"type":"che`;
    writeFileSync(mine, torn);
    writeFileSync(peerIdle, '{}\n');
    writeFileSync(peerLive, '{}\n');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(peerIdle, hourAgo, hourAgo);
    const log = await AuditLog.open({ dir: d, instanceId: 'h', now: () => DAY1, logger: silentLogger() });
    await log.close();
    expect(existsSync(mine)).toBe(false);
    expect(gunzipSync(readFileSync(`${mine}.gz`)).toString('utf8')).toBe(torn);
    expect(existsSync(`${peerIdle}.gz`)).toBe(true);
    expect(existsSync(peerLive)).toBe(true);
    expect(existsSync(`${peerLive}.gz`)).toBe(false);
  });

  it('starts a new line after a torn last line when it reopens today\'s file', async () => {
    const d = dir();
    const path = join(d, auditFileName('h', '2026-11-30'));
    writeFileSync(path, '{"type":"check","at":"2026');
    const log = await AuditLog.open({ dir: d, instanceId: 'h', now: () => DAY1, logger: silentLogger() });
    log.write(check(7, DAY1));
    await log.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines[0]).toBe('{"type":"check","at":"2026');
    expect(JSON.parse(lines[1] as string)).toMatchObject({ number: '+33612340007' });
  });

  it('keeps records in a bounded buffer while the disk fails, refuses the newest past it loudly, then recovers', async () => {
    const d = dir();
    const path = join(d, auditFileName('h', '2026-11-30'));
    mkdirSync(path); // open() of the file fails (EISDIR), as a broken disk would
    const { logger, lines } = capture();
    const one = JSON.stringify({ ...check(0, DAY1), instance: 'h' }).length + 1;
    const log = await AuditLog.open({ dir: d, instanceId: 'h', now: () => DAY1, logger, maxPendingBytes: one * 10, flushIntervalMs: 60_000 });
    expect(log.writable).toBe(true);
    for (let i = 0; i < 5; i++) log.write(check(i, DAY1));
    await log.flush();
    expect(log.stats()).toMatchObject({ written: 0, dropped: 0, pendingBytes: one * 5, failing: true });
    expect(log.writable).toBe(false);
    expect(lines.filter((l) => l.level === 'error' && l.msg.includes('write failed'))).toHaveLength(1);
    const taken = Array.from({ length: 15 }, (_, i) => log.write(check(i + 5, DAY1)));
    // Records 5–9 fill the buffer; 10–19 are refused (write() says so) and counted lost: the oldest are kept.
    expect(taken).toEqual([...Array<boolean>(5).fill(true), ...Array<boolean>(10).fill(false)]);
    expect(log.stats()).toMatchObject({ dropped: 10, pendingBytes: one * 10 });
    expect(lines.some((l) => l.level === 'error' && l.msg.includes('RECORDS LOST'))).toBe(true);
    rmdirSync(path);
    await log.flush();
    expect(log.writable).toBe(true);
    await log.close();
    expect(log.writable).toBe(false);
    expect(log.stats()).toMatchObject({ written: 10, dropped: 10, pendingBytes: 0, failing: false });
    expect(readLines(path).map((r) => (r as { number: string }).number)).toEqual(Array.from({ length: 10 }, (_, i) => `+336123400${String(i).padStart(2, '0')}`));
  });

  it('on a full disk (the day file is /dev/full: ENOSPC) counts lines in flight against the bound and never exceeds it', async () => {
    const d = dir();
    const path = join(d, auditFileName('h', '2026-11-30'));
    symlinkSync('/dev/full', path);
    const one = JSON.stringify({ ...check(0, DAY1), instance: 'h' }).length + 1;
    const log = await AuditLog.open({ dir: d, instanceId: 'h', now: () => DAY1, logger: silentLogger(), maxPendingBytes: one * 8, flushIntervalMs: 60_000 });
    let lost = 0;
    for (let round = 0; round < 5; round++) {
      // Writes made while a flush is in flight must not get a second buffer's worth of room.
      const flushing = log.flush();
      await new Promise((r) => setImmediate(r)); // the flush has taken the buffer and waits on the file system
      for (let i = 0; i < 6; i++) if (!log.write(check(round * 6 + i, DAY1))) lost++;
      await flushing;
      expect(log.stats().pendingBytes).toBeLessThanOrEqual(one * 8);
    }
    expect(log.stats()).toMatchObject({ failing: true, dropped: lost, pendingBytes: one * 8 });
    expect(log.writable).toBe(false);
    unlinkSync(path); // the disk frees up: the next flush opens a real file
    await log.flush();
    expect(log.stats()).toMatchObject({ failing: false, written: 8 });
    expect(log.writable).toBe(true);
    await log.close();
    expect(readLines(path)).toHaveLength(8);
  });

  it('sanitises the instance id for the file name and keeps it as-is in records', async () => {
    expect(sanitiseInstanceId('host/1:a b')).toBe('host_1_a_b');
    expect(sanitiseInstanceId('..x')).toBe('_x');
    const d = dir();
    const log = await AuditLog.open({ dir: d, instanceId: 'web/1', now: () => DAY1, logger: silentLogger() });
    const e: AuditEvent = check(1, DAY1);
    log.write(e);
    await log.close();
    expect(readdirSync(d)).toEqual(['callgate-audit-web_1-2026-11-30.jsonl']);
    expect(readLines(join(d, 'callgate-audit-web_1-2026-11-30.jsonl'))[0]).toMatchObject({ instance: 'web/1' });
    expect(parseAuditFileName('callgate-audit-a-b-2026-11-30.jsonl.gz')).toEqual({ instance: 'a-b', day: '2026-11-30', gzip: true });
  });

  it('rejects a bad configuration with CALLGATE_ERR_CONFIG', async () => {
    const err = await AuditLog.open({ dir: dir(), instanceId: 'h', retentionDays: 0, logger: silentLogger() }).catch((e: unknown) => e);
    expect(isCallgateError(err) && err.code).toBe('CALLGATE_ERR_CONFIG');
    const err2 = await AuditLog.open({ dir: dir(), instanceId: '', logger: silentLogger() }).catch((e: unknown) => e);
    expect(isCallgateError(err2) && err2.code).toBe('CALLGATE_ERR_CONFIG');
  });
});
