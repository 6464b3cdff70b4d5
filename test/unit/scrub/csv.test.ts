/**
 * The scrub's pure CSV logic: dialect sniffing, the streaming record reader (quotes, embedded separators
 * and line breaks, doubled quotes, broken quoting, the row-size cap, line numbers), the writer, and a
 * property test that whatever the writer writes the reader reads back, however the text is chunked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sniffDialect, sniffLineEnding, sniffSeparator, type Dialect, type LineEnding, type Separator } from '../../../src/scrub/dialect.js';
import { CsvReader, type CsvRecord } from '../../../src/scrub/reader.js';
import { formatField, formatOutputLine, formatRecord } from '../../../src/scrub/writer.js';

function readAll(text: string, dialect: Dialect, chunks: readonly number[] = [], maxRowChars = 1 << 20): CsvRecord[] {
  const reader = new CsvReader(dialect, { maxRowChars });
  const out: CsvRecord[] = [];
  let pos = 0;
  for (const size of chunks) {
    if (pos >= text.length) break;
    out.push(...reader.push(text.slice(pos, pos + size)));
    pos += size;
  }
  out.push(...reader.push(text.slice(pos)));
  out.push(...reader.end());
  return out;
}

const SEMI: Dialect = { separator: ';', lineEnding: '\r\n' };
const COMMA: Dialect = { separator: ',', lineEnding: '\n' };

describe('dialect', () => {
  it('finds the separator that splits the first lines consistently', () => {
    expect(sniffSeparator('name;phone;city\nA;0612345678;Paris\n')).toBe(';');
    expect(sniffSeparator('name,phone,amount\nA,0612345678,"12,50"\n')).toBe(',');
    expect(sniffSeparator('name\tphone\nA\t0612345678\n')).toBe('\t');
    expect(sniffSeparator('name|phone\nA|0612345678\n')).toBe('|');
    // Commas inside a French amount do not outvote the semicolons.
    expect(sniffSeparator('nom;tel;montant\nA;0612345678;12,50\nB;0612345679;3,20\n')).toBe(';');
    // A quoted separator is data.
    expect(sniffSeparator('"a;b",phone\n"c;d",0612345678\n')).toBe(',');
  });

  it('reads the line ending outside quotes', () => {
    expect(sniffLineEnding('a;b\r\nc;d\r\n')).toBe('\r\n');
    expect(sniffLineEnding('a;b\nc;d\n')).toBe('\n');
    expect(sniffLineEnding('a;b\rc;d\r')).toBe('\r');
    expect(sniffLineEnding('"a\nb";c\r\nd;e\r\n')).toBe('\r\n');
    expect(sniffDialect('0612345678\n')).toEqual({ separator: ',', lineEnding: '\n' });
  });
});

describe('reader', () => {
  it('reads plain, quoted, multi-line and doubled-quote fields with their raw text and lines', () => {
    const text = 'nom;tel\r\n"Dupont; Jean";06 12\r\n"Martin\r\nBis";"a ""b"""\r\nX;1';
    const records = readAll(text, SEMI);
    expect(records.map((r) => r.fields)).toEqual([['nom', 'tel'], ['Dupont; Jean', '06 12'], ['Martin\r\nBis', 'a "b"'], ['X', '1']]);
    expect(records.map((r) => r.raw)).toEqual(['nom;tel', '"Dupont; Jean";06 12', '"Martin\r\nBis";"a ""b"""', 'X;1']);
    expect(records.map((r) => r.line)).toEqual([1, 2, 3, 5]);
    expect(records.map((r) => r.eol)).toEqual(['\r\n', '\r\n', '\r\n', '']);
    expect(records.every((r) => r.problem === null)).toBe(true);
  });

  it('answers the same however the text is cut', () => {
    const text = 'a,"b\nc",d\n"e""f",g\n';
    const whole = readAll(text, COMMA);
    for (let size = 1; size <= 5; size++) expect(readAll(text, COMMA, new Array<number>(40).fill(size))).toEqual(whole);
  });

  it('keeps a quote inside an unquoted field as data (as Excel does)', () => {
    expect(readAll('a,b"c,d\n', COMMA)[0]).toMatchObject({ fields: ['a', 'b"c', 'd'], problem: null });
  });

  it('reports text after a closing quote, and a quote never closed, as broken quoting', () => {
    expect(readAll('a,"b"c,d\nx,y\n', COMMA).map((r) => [r.line, r.problem])).toEqual([
      [1, 'broken_quoting'],
      [2, null],
    ]);
    const open = readAll('a,b\nc,"never closed\nx,y\n', COMMA);
    expect(open.map((r) => [r.line, r.lines, r.problem, r.raw])).toEqual([
      [1, 1, null, 'a,b'],
      [2, 3, 'broken_quoting', 'c,"never closed\nx,y\n'],
    ]);
  });

  it('reports a record over the cap without keeping it, and resynchronises at the next line', () => {
    const long = 'x'.repeat(500);
    const text = `a,b\n${long},1\nc,d\n"${long}\n${long}",2\ne,f\n`;
    expect(readAll(text, COMMA, [], 100).map((r) => [r.line, r.problem, r.raw])).toEqual([
      [1, null, 'a,b'],
      [2, 'row_too_long', null],
      [3, null, 'c,d'],
      [4, 'row_too_long', null],
      [6, null, 'e,f'],
    ]);
    // Fed in small chunks, the quoted record is over the cap before its end is seen: reading resumes at
    // the next line ending (inside its quotes), and what follows up to the real end is one more bad row.
    // Good rows are read as before; nothing is dropped without a report.
    const chunked = readAll(text, COMMA, new Array<number>(200).fill(7), 100);
    expect(chunked.filter((r) => r.problem === null).map((r) => [r.line, r.raw])).toEqual([
      [1, 'a,b'],
      [3, 'c,d'],
      [6, 'e,f'],
    ]);
    expect(chunked.filter((r) => r.problem !== null).map((r) => [r.line, r.problem])).toEqual([
      [2, 'row_too_long'],
      [4, 'row_too_long'],
      [5, 'row_too_long'],
    ]);
  });

  it('reads lone-CR files and CRLF inside LF files', () => {
    expect(readAll('a;b\rc;d\r', { separator: ';', lineEnding: '\r' }).map((r) => r.fields)).toEqual([['a', 'b'], ['c', 'd']]);
    expect(readAll('a,b\r\nc,d\n', COMMA).map((r) => [r.raw, r.eol])).toEqual([
      ['a,b', '\r\n'],
      ['c,d', '\n'],
    ]);
  });
});

describe('writer', () => {
  it('quotes only what needs it and appends after the raw row', () => {
    expect(formatField('plain', ';')).toBe('plain');
    expect(formatField('a;b', ';')).toBe('"a;b"');
    expect(formatField('a,b', ';')).toBe('a,b');
    expect(formatField('say "hi"', ',')).toBe('"say ""hi"""');
    expect(formatField('two\nlines', ',')).toBe('"two\nlines"');
    expect(formatOutputLine('"x;y";06', 2, ['block', 'bloctel', '+33612345678', ''], ';', '\r\n')).toBe('"x;y";06;block;bloctel;+33612345678;\r\n');
    // A row too long to keep: as many empty columns as the header, so the verdict stays under its name.
    expect(formatOutputLine(null, 3, ['block', 'row_too_long', '', ''], ',', '\n')).toBe(',,,block,row_too_long,,\n');
  });
});

describe('write → read round trip (property)', () => {
  const separators: Separator[] = [',', ';', '\t', '|'];
  const endings: LineEnding[] = ['\r\n', '\n', '\r'];
  const char = fc.constantFrom('a', 'Z', '0', '9', ' ', 'é', '€', '"', ',', ';', '\t', '|', '\r', '\n', '+', '.');
  const field = fc.array(char, { maxLength: 8 }).map((cs) => cs.join(''));
  // A record of one empty field is a blank line (skipped by the scrub): not generated.
  const record = fc.array(field, { minLength: 1, maxLength: 6 }).filter((r) => !(r.length === 1 && r[0] === ''));

  it('reads back every field and the exact raw text, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.constantFrom(...separators), fc.constantFrom(...endings), fc.array(record, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 60 }), fc.boolean(), (sep, eol, records, chunks, finalEol) => {
        const lines = records.map((r) => formatRecord(r, sep));
        const text = lines.map((l, i) => l + (i < lines.length - 1 || finalEol ? eol : '')).join('');
        const read = readAll(text, { separator: sep, lineEnding: eol }, chunks);
        expect(read.map((r) => r.fields)).toEqual(records);
        expect(read.map((r) => r.raw)).toEqual(lines);
        expect(read.every((r) => r.problem === null)).toBe(true);
        // Line numbers count the line breaks inside quoted fields.
        let line = 1;
        for (const r of read) {
          expect(r.line).toBe(line);
          line += r.lines;
        }
      }),
      { numRuns: 500 },
    );
  });
});
