/**
 * The scrub's encoding detection and round trip (UTF-8 with/without BOM, Windows-1252 byte for byte),
 * the phone-column choice (index, header name, detection, no header), and the row verdicts (fail closed:
 * only a clean allow is callable; gate-side reasons are "not decided").
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeText, hasUtf8Bom, TextReader, Utf8Check } from '../../../src/scrub/encoding.js';
import { chooseColumn, phoneColumnsOf } from '../../../src/scrub/columns.js';
import { fromAnswer, numberOrBlock } from '../../../src/scrub/row-verdict.js';
import type { CsvRecord } from '../../../src/scrub/reader.js';
import { ErrorCode } from '../../../src/core/errors.js';
import { codeOf } from '../../helpers/errors.js';

function utf8Valid(chunks: readonly Buffer[]): boolean {
  const check = new Utf8Check();
  for (const c of chunks) check.push(c);
  return check.end();
}

describe('encoding', () => {
  it('tells UTF-8 from Windows-1252, across chunk boundaries', () => {
    const e = Buffer.from('é', 'utf8');
    expect(utf8Valid([Buffer.from('a'), e.subarray(0, 1), e.subarray(1)])).toBe(true);
    expect(utf8Valid([Buffer.from([0x61, 0xe9, 0x62])])).toBe(false);
    // A character cut at the very end is not valid UTF-8.
    expect(utf8Valid([Buffer.from('a'), e.subarray(0, 1)])).toBe(false);
    expect(hasUtf8Bom(Buffer.from([0xef, 0xbb, 0xbf, 0x61]))).toBe(true);
  });

  it('decodes Windows-1252 with its specials and writes back the same bytes (property)', () => {
    const reader = new TextReader({ encoding: 'windows-1252', bom: false });
    expect(reader.decode(Buffer.from([0x80, 0xe9, 0x9c, 0x92]))).toBe('€éœ’');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = new TextReader({ encoding: 'windows-1252', bom: false }).decode(bytes);
        expect(Buffer.compare(encodeText(text, 'windows-1252'), Buffer.from(bytes))).toBe(0);
      }),
    );
  });

  it('drops the BOM from the text and decodes UTF-8 split anywhere', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('tél;€', 'utf8')]);
    const reader = new TextReader({ encoding: 'utf-8', bom: true });
    let text = '';
    for (let i = 0; i < bytes.length; i += 2) text += reader.decode(bytes.subarray(i, i + 2));
    expect(text + reader.end()).toBe('tél;€');
  });
});

describe('column choice', () => {
  it('finds the phone column by header name', () => {
    expect(phoneColumnsOf(['Nom', 'Téléphone', 'Ville'])).toEqual([1]);
    expect(phoneColumnsOf(['name', 'Mobile phone'])).toEqual([1]);
    expect(phoneColumnsOf(['id', 'numéro'])).toEqual([1]);
    expect(phoneColumnsOf(['id', 'tel_domicile'])).toEqual([1]);
    expect(phoneColumnsOf(['id', 'city'])).toEqual([]);
    expect(chooseColumn(['Nom', 'TEL', 'Ville'], null)).toEqual({ index: 1, header: true });
  });

  it('refuses to pick one of several phone columns (the other\'s listed numbers would ship as callable)', () => {
    expect(codeOf(() => chooseColumn(['nom', 'telephone', 'mobile'], null))).toBe(ErrorCode.SCRUB_INPUT);
    expect(codeOf(() => chooseColumn(['phone', 'phone'], null))).toBe(ErrorCode.SCRUB_INPUT);
    expect(codeOf(() => chooseColumn(['phone', 'Phone'], 'phone'))).toBe(ErrorCode.SCRUB_INPUT);
    expect(chooseColumn(['nom', 'telephone', 'mobile'], 'mobile')).toEqual({ index: 2, header: true });
  });

  it('takes --column as a 1-based index or a header name', () => {
    expect(chooseColumn(['a', 'b', 'c'], '3')).toEqual({ index: 2, header: true });
    expect(chooseColumn(['x', '0612345678'], '2')).toEqual({ index: 1, header: false });
    expect(chooseColumn(['Nom', 'Portable perso'], 'portable perso')).toEqual({ index: 1, header: true });
    expect(codeOf(() => chooseColumn(['a'], '2'))).toBe(ErrorCode.SCRUB_INPUT);
    expect(codeOf(() => chooseColumn(['a'], '0'))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => chooseColumn(['a'], 'phone'))).toBe(ErrorCode.SCRUB_INPUT);
  });

  it('sees a file without a header, and asks when it cannot tell', () => {
    expect(chooseColumn(['Dupont', '06 12 34 56 78', 'Paris'], null)).toEqual({ index: 1, header: false });
    expect(codeOf(() => chooseColumn(['123456789', '0612345678'], null))).toBe(ErrorCode.SCRUB_INPUT);
    expect(codeOf(() => chooseColumn(['name', 'city'], null))).toBe(ErrorCode.SCRUB_INPUT);
  });
});

describe('row verdicts', () => {
  const record = (fields: string[], problem: CsvRecord['problem'] = null): CsvRecord => ({ line: 2, lines: 1, raw: fields.join(';'), fields, eol: '\n', problem });

  it('blocks bad rows before asking the gate', () => {
    expect(numberOrBlock(record(['a', ' 0612345678 ']), 1)).toEqual({ number: '0612345678' });
    expect(numberOrBlock(record(['a', '  ']), 1)).toMatchObject({ blocked: { callable: false, reason: 'no_number', bad: true } });
    expect(numberOrBlock(record(['a']), 1)).toMatchObject({ blocked: { reason: 'no_number' } });
    expect(numberOrBlock(record(['a', '1'.repeat(65)]), 1)).toMatchObject({ blocked: { reason: 'invalid_number', bad: true } });
    expect(numberOrBlock(record(['a', '0612345678'], 'broken_quoting'), 1)).toMatchObject({ blocked: { reason: 'broken_quoting', bad: true } });
  });

  it('is callable only on a clean allow; gate-side reasons are undecided', () => {
    expect(fromAnswer({ number: '+33612345678', verdict: 'allow', reason: 'not_listed' })).toEqual({ callable: true, reason: 'not_listed', fields: ['allow', 'not_listed', '+33612345678', ''], undecided: false, bad: false });
    expect(fromAnswer({ number: '+33612345678', verdict: 'block', reason: 'outside_hours', retryAt: '2026-12-07T10:00:00+01:00' }).fields).toEqual(['block', 'outside_hours', '+33612345678', '2026-12-07T10:00:00+01:00']);
    expect(fromAnswer({ number: null, verdict: 'block', reason: 'gate_unavailable', error: { code: 'gate_unavailable', message: 'x' } })).toMatchObject({ callable: false, undecided: true });
    expect(fromAnswer({ number: '+33612345678', verdict: 'allow', reason: 'not_listed', error: { code: 'internal', message: 'x' } })).toMatchObject({ callable: false, reason: 'gate_unavailable', undecided: true });
    for (const reason of ['not_ready', 'unconfirmed', 'audit_unavailable', 'unknown_campaign']) expect(fromAnswer({ number: null, verdict: 'block', reason })).toMatchObject({ callable: false, undecided: true });
    expect(fromAnswer({ number: '+33612345678', verdict: 'block', reason: 'bloctel' })).toMatchObject({ callable: false, undecided: false, bad: false });
  });
});
