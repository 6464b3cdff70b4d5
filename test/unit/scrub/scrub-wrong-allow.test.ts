/**
 * Lead files a spreadsheet or a dialer reads differently from the scrub: a listed number must never land
 * in the callable file (found by a hostile review; both used to write it there).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalise } from '../../../src/numbers/normalise.js';
import { scrubFile, type BatchChecker } from '../../../src/scrub/scrub.js';

const LISTED = '+33698765432';
const client: BatchChecker = {
  async batch(numbers) {
    return numbers.map((n) => {
      const e = normalise(n);
      if (e === null) return { number: null, verdict: 'block' as const, reason: 'invalid_number' };
      return e === LISTED ? { number: e, verdict: 'block' as const, reason: 'listed' } : { number: e, verdict: 'allow' as const, reason: 'ok' };
    });
  },
};

async function callableText(content: string | Buffer): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'scrub-review-'));
  const input = join(dir, 'leads.csv');
  writeFileSync(input, content);
  await scrubFile({ input, campaign: null, column: null, outDir: null, annotate: false, progress: null }, client);
  return readFileSync(join(dir, 'leads.callable.csv'), 'latin1');
}

describe('scrub never writes a listed number to the callable file', () => {
  it('mixed line endings: a CR-only line after LF lines', async () => {
    const out = await callableText('nom;telephone;ville\nA;0612345678;Paris\rB;0698765432;Lyon\n');
    expect(out).not.toContain('0698765432');
  });
  it('a lone CR inside a CRLF file, and an LF inside a CR-only file, block the record as stray_line_break', async () => {
    expect(await callableText('nom;telephone;ville\r\nA;0612345678;Paris\rB;0698765432;Lyon\r\nC;0611111111;Nice\r\n')).toBe('nom;telephone;ville;verdict;reason;e164;retryAt\r\nC;0611111111;Nice;allow;ok;+33611111111;\r\n');
    expect(await callableText('nom;telephone;ville\rA;0612345678;"Pa""ris"\nB;0698765432;Lyon\r')).not.toContain('0698765432');
  });
  it('two phone columns in the header: refused, nothing written', async () => {
    await expect(callableText('nom;telephone;mobile\nA;0612345678;0698765432\n')).rejects.toMatchObject({ code: 'CALLGATE_ERR_SCRUB_INPUT' });
  });
});
