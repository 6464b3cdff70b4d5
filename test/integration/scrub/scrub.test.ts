/**
 * `callgate scrub` (issue 15 item 1) against the real server in both modes, through the spawned CLI: a
 * UTF-8 lead file with a BOM, CRLF, `;`, a header, quoted fields holding separators, line breaks and
 * doubled quotes, a listed number written four ways and bad rows; a Windows-1252 file with `,` and LF,
 * annotated, under a rules campaign (retryAt); rows kept byte for byte, bad rows reported by line, and
 * no attempt counted (a dial afterwards still has the whole frequency cap). Then a gate that goes away
 * mid-scrub (gate_unavailable rows, exit 2) and an unreachable gate (no file written).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { CallgateClient } from '../../../src/client/client.js';
import { ErrorCode } from '../../../src/core/errors.js';
import { scrubFile, type BatchChecker } from '../../../src/scrub/scrub.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { startEmbedded, tempDir, writeList } from '../../helpers/service.js';
import { runCli, waitFor } from '../../helpers/spawn-cli.js';
import type { RunningService } from '../../../src/service.js';
import { writeConfig } from '../../helpers/config-file.js';

// Tuesday 1 December 2026, 11:00 in Paris: inside the calling hours. Saturday 5 December: outside them.
const TUESDAY_11H = Date.parse('2026-12-01T10:00:00Z');
const SATURDAY = Date.parse('2026-12-05T10:00:00Z');

/** Rules campaigns (fr-optin counts attempts) need Redis mode; embedded mode gets the lists alone. */
function config(dir: string, rules: boolean): string {
  const bloctel = writeList(['0612000001', '0612000002'], 'bloctel.txt', dir);
  const consents = writeList(['0612000002', '0612000003', '0612000006'], 'consents.txt', dir);
  const file = writeConfig(dir, {
    lists: [
      { name: 'bloctel', kind: 'deny', source: bloctel },
      { name: 'consents', kind: 'allow', role: 'consent', source: consents },
    ],
    campaigns: { winter: { policy: rules ? 'fr-optin' : 'deny-lists' } },
  });
  return file;
}

const BOM = '\ufeff';
const APPENDED = ';verdict;reason;e164;retryAt';
// Lines: 1 header, 2-5 one listed number written four ways, 6-7 a quoted field with a line break, 8 no
// number, 9 not a number, 10 text after a closing quote, 11 an unlisted +33 with spaces.
const UTF8_ROWS = {
  header: 'nom;téléphone;ville;note',
  a: '"Dupont; Jean";06 12 00 00 01;Paris;a',
  b: 'Durand;+33612000001;Lyon;b',
  c: 'Petit;0033612000001;Nice;c',
  d: 'Moreau;06.12.00.00.01;Lille;d',
  e: '"Martin\r\nBis";0612000003;"Lyon ""centre""";e',
  f: 'Vide;;X;f',
  g: 'Zed;pas un numéro;Y;g',
  h: 'Cassé;0612000004;"x"y;h',
  i: 'Ok;+33 6 12 00 00 05;Z;i',
};
const utf8File = BOM + Object.values(UTF8_ROWS).join('\r\n') + '\r\n';

// Windows-1252: `é` is one byte (0xE9), `€` is 0x80. Comma-separated, LF, one row per line.
const CP1252_LINES = ['Nom,Téléphone,Montant', 'Hélène,0612000003,"12,50 €"', 'Zoé,0612000002,3', 'Loïc,0612000009,4', 'Noël,06 12 00 00 06,5'];
function cp1252(text: string): Buffer {
  return Buffer.from(text.replace(/€/g, '\u0080'), 'latin1');
}

async function auditTypes(dir: string): Promise<string[]> {
  // The injected clock moves between days: the earlier day's file is rotated and gzipped.
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl') || f.endsWith('.jsonl.gz'))
    .flatMap((f) => (f.endsWith('.gz') ? gunzipSync(readFileSync(join(dir, f))) : readFileSync(join(dir, f))).toString('utf8').split('\n').filter(Boolean))
    .map((l) => (JSON.parse(l) as { type: string }).type);
}

type Start = (args: readonly string[], now: () => number) => Promise<RunningService & { url: string }>;
interface Mode {
  readonly start: Start;
  /** Rules campaigns configured (Redis mode): retryAt and attempt counting can be shown. */
  readonly rules: boolean;
}
const prefix = uniquePrefix('cgscrub');
afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

const MODES: readonly [string, Mode][] = [
  ['embedded', { rules: false, start: (args, now) => startEmbedded(args, {}, { now }) }],
  ['redis', { rules: true, start: (args, now) => startRedisMode(SHARED_REDIS_URL, `${prefix}:${Math.random().toString(36).slice(2)}:`, args, { now }) }],
];

describe.each(MODES)('callgate scrub (%s mode)', (_mode, { start, rules }) => {
  it('keeps every row byte for byte, blocks a listed number in every form, reports bad rows by line, and never dials', async () => {
    const dir = tempDir('callgate-scrub-');
    const auditDir = tempDir('callgate-audit-');
    let now = TUESDAY_11H;
    const svc = await start(['--config', config(dir, rules), '--audit-dir', auditDir], () => now);
    try {
      const leads = join(dir, 'leads.csv');
      writeFileSync(leads, utf8File);
      const out = tempDir('callgate-scrub-out-');
      const r = await runCli(['scrub', leads, '--url', svc.url, '--out', out]);
      expect(r.stderr).toContain('callable 2, blocked 7');
      expect(r.code).toBe(0);
      const R = UTF8_ROWS;
      const header = `${BOM}${R.header}${APPENDED}\r\n`;
      expect(readFileSync(join(out, 'leads.callable.csv'), 'utf8')).toBe(
        header + [`${R.e};allow;not_listed;+33612000003;`, `${R.i};allow;not_listed;+33612000005;`].map((l) => `${l}\r\n`).join(''),
      );
      expect(readFileSync(join(out, 'leads.blocked.csv'), 'utf8')).toBe(
        header +
          [
            `${R.a};block;bloctel;+33612000001;`,
            `${R.b};block;bloctel;+33612000001;`,
            `${R.c};block;bloctel;+33612000001;`,
            `${R.d};block;bloctel;+33612000001;`,
            `${R.f};block;no_number;;`,
            `${R.g};block;invalid_number;;`,
            `${R.h};block;broken_quoting;;`,
          ]
            .map((l) => `${l}\r\n`)
            .join(''),
      );
      const report = readFileSync(join(out, 'leads.report.txt'), 'utf8');
      expect(report).toContain('line 8\tno_number\nline 9\tinvalid_number\nline 10\tbroken_quoting\n');
      expect(r.stderr).toContain('bad rows 3, first at lines 8, 9, 10');
      // Nothing else left in the output folder (no temporary file).
      expect(readdirSync(out).sort()).toEqual(['leads.blocked.csv', 'leads.callable.csv', 'leads.report.txt']);

      // A Windows-1252 file, annotated; under a rules campaign on a Saturday: outside_hours with retryAt.
      now = SATURDAY;
      const latin = join(dir, 'export.csv');
      writeFileSync(latin, cp1252(CP1252_LINES.join('\n') + '\n'));
      const a = await runCli(['scrub', latin, '--url', svc.url, '--annotate', ...(rules ? ['--campaign', 'winter'] : [])]);
      expect(a.code).toBe(0);
      expect(a.stderr).toContain('windows-1252');
      const retry = '2026-12-07T10:00:00+01:00';
      const verdicts = rules
        ? [`block,outside_hours,+33612000003,${retry}`, 'block,bloctel,+33612000002,', 'block,no_consent,+33612000009,', `block,outside_hours,+33612000006,${retry}`]
        : ['allow,not_listed,+33612000003,', 'block,bloctel,+33612000002,', 'allow,not_listed,+33612000009,', 'allow,not_listed,+33612000006,'];
      const expected = cp1252([`${CP1252_LINES[0]},verdict,reason,e164,retryAt`, ...verdicts.map((v, i) => `${CP1252_LINES[i + 1]},${v}`)].join('\n') + '\n');
      expect(readFileSync(join(dir, 'export.scrubbed.csv')).toString('latin1')).toBe(expected.toString('latin1'));
      expect(readdirSync(dir).filter((f) => f.startsWith('export.')).sort()).toEqual(['export.csv', 'export.report.txt', 'export.scrubbed.csv']);

      // No attempt is counted: scrub a number six times, then dial it; under fr-optin the cap (4) is whole.
      now = TUESDAY_11H;
      const again = join(dir, 'again.csv');
      writeFileSync(again, ['0612000003', '06 12 00 00 03', '+33612000003', '0033612000003', '06.12.00.00.03', '+33 6 12 00 00 03'].join('\n') + '\n');
      const s = await runCli(['scrub', again, '--url', svc.url, ...(rules ? ['--campaign', 'winter'] : [])]);
      expect(s.code).toBe(0);
      expect(s.stderr).toContain('callable 6, blocked 0');
      expect(readFileSync(join(dir, 'again.callable.csv'), 'utf8').split('\n')[0]).toBe(rules ? '0612000003,allow,consent,+33612000003,' : '0612000003,allow,not_listed,+33612000003,');
      if (rules) {
        const c = await CheckClient.connect(svc.url);
        try {
          const dials = [];
          for (let i = 0; i < 5; i++) dials.push(await c.request({ op: 'check', number: '0612000003', campaign: 'winter', dial: true }));
          expect(dials.map((d) => d['verdict'])).toEqual(['allow', 'allow', 'allow', 'allow', 'block']);
          expect(dials[4]).toMatchObject({ reason: 'frequency_cap' });
        } finally {
          await c.close();
        }
      }
      // The scrubs' audit records are batch summaries, never a (dialled) check: the only checks are the dials above.
      // The writer flushes on its own schedule: wait for the dials' records too, then count exactly.
      const types = await waitFor(async () => {
        const t = await auditTypes(auditDir);
        return t.filter((x) => x === 'batch').length >= 3 && t.filter((x) => x === 'check').length >= (rules ? 5 : 0) ? t : null;
      }, 'the three scrubs\' batch records and the dials\' check records');
      expect(types.filter((t) => t === 'check')).toHaveLength(rules ? 5 : 0);
    } finally {
      await svc.stop();
    }
  });

  it('an unknown campaign leaves every row undecided: blocked, and exit 2', async () => {
    const dir = tempDir('callgate-scrub-');
    const svc = await start(['--config', config(dir, rules)], () => TUESDAY_11H);
    try {
      const leads = join(dir, 'l.csv');
      writeFileSync(leads, 'phone\n0612000003\n0612000005\n');
      const r = await runCli(['scrub', leads, '--url', svc.url, '--campaign', 'nope']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('NOT DECIDED by the gate: 2 rows');
      expect(readFileSync(join(dir, 'l.callable.csv'), 'utf8')).toBe('phone,verdict,reason,e164,retryAt\n');
      expect(readFileSync(join(dir, 'l.report.txt'), 'utf8')).toContain('line 2\tunknown_campaign\nline 3\tunknown_campaign\n');
    } finally {
      await svc.stop();
    }
  });
});

describe('callgate scrub without a gate', () => {
  it('a gate that goes away mid-scrub: the rest is gate_unavailable, blocked, and counted as undecided', async () => {
    const dir = tempDir('callgate-scrub-');
    const svc = await startEmbedded(['--list', `bloctel=${writeList(['0612000001'], 'b.txt', dir)}`]);
    const client = new CallgateClient({ url: svc.url, timeoutMs: 10_000, pingIntervalMs: 0, backoff: { initialMs: 60_000, maxMs: 60_000 } });
    let calls = 0;
    const checker: BatchChecker = {
      async batch(numbers) {
        // The second batch is sent after the gate stopped: the client answers it fail-closed.
        if (++calls === 2) await svc.stop();
        return client.batch(numbers);
      },
    };
    try {
      await client.connected();
      const leads = join(dir, 'leads.csv');
      writeFileSync(leads, `tel\n0612000001\n0612000002\n0612000003\n0612000004\n`);
      const s = await scrubFile({ input: leads, campaign: null, column: null, outDir: null, annotate: false, batchSize: 2, maxBatchesInFlight: 1 }, checker);
      expect(s).toMatchObject({ rows: 4, callable: 1, blocked: 3, undecided: 2, blockedByReason: { bloctel: 1, gate_unavailable: 2 } });
      expect(readFileSync(join(dir, 'leads.blocked.csv'), 'utf8')).toBe('tel,verdict,reason,e164,retryAt\n0612000001,block,bloctel,+33612000001,\n0612000003,block,gate_unavailable,,\n0612000004,block,gate_unavailable,,\n');
    } finally {
      await client.close();
      await svc.stop();
    }
  });

  it('an unreachable gate fails the command and writes nothing', async () => {
    const dir = tempDir('callgate-scrub-');
    const leads = join(dir, 'leads.csv');
    writeFileSync(leads, 'tel\n0612000001\n');
    const r = await runCli(['scrub', leads, '--url', 'ws://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(ErrorCode.UNREACHABLE);
    expect(readdirSync(dir)).toEqual(['leads.csv']);
  });
});
