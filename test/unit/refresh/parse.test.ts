import { describe, expect, it } from 'vitest';
import {
  classifyLine,
  createParseState,
  firstField,
  LineSplitter,
  ListAccumulator,
  MAX_BAD_LINE_NUMBERS,
} from '../../../src/refresh/parse.js';
import type { LineResult, Normaliser } from '../../../src/refresh/parse.js';
import { normalise } from '../../../src/numbers/normalise.js';

/** A stand-in normaliser so these tests pin the parsing rules, not the numbering plan. */
const tenDigits: Normaliser = (raw) => {
  const d = raw.replace(/[ .-]/g, '');
  return /^0[1-9]\d{8}$/.test(d) ? `+33${d.slice(1)}` : null;
};

function kinds(lines: readonly string[]): string[] {
  const state = createParseState();
  return lines.map((l, i) => {
    const r: LineResult = classifyLine(l, i + 1, state);
    return r.kind === 'number' ? `number:${r.raw}` : r.kind;
  });
}

describe('firstField', () => {
  it.each([
    ['0612345678', '0612345678'],
    ['  06 12 34 56 78  ', '06 12 34 56 78'],
    ['0612345678;2024-01-01', '0612345678'],
    ['0612345678,Dupont', '0612345678'],
    ['0612345678\tDupont', '0612345678'],
    ['"0612345678";"x"', '0612345678'],
    [' " 06 12 34 56 78 " , x', '06 12 34 56 78'],
    ['"06,12";x', '06,12'],
    ['"0612345678', '"0612345678'],
    ["'0612345678", '0612345678'],
    ['\u00a00612345678\u00a0', '0612345678'],
    [';0612345678', ''],
    ['', ''],
  ])('%j → %j', (line, field) => {
    expect(firstField(line)).toBe(field);
  });
});

describe('classifyLine', () => {
  it('counts blank, whitespace-only and empty rows as blank', () => {
    expect(kinds(['', '   ', '\t', '\r', ';;', ' , ; ', '""', '"";""'])).toEqual(Array(8).fill('blank'));
  });

  it('recognises comments, also after leading whitespace', () => {
    expect(kinds(['# a', '  #b', '#0612345678'])).toEqual(['comment', 'comment', 'comment']);
  });

  it('takes the first content line without digits as a header, and only that line', () => {
    expect(kinds(['# c', '', 'telephone;date_inscription', 'number', '0612345678'])).toEqual([
      'comment',
      'blank',
      'header',
      'bad',
      'number:0612345678',
    ]);
  });

  it('never takes a later digitless line as a header', () => {
    expect(kinds(['0612345678', 'number'])).toEqual(['number:0612345678', 'bad']);
  });

  it('does not take a first line with digits as a header', () => {
    expect(kinds(['tel1;tel2', 'number'])).toEqual(['number:tel1', 'bad']);
  });

  it('strips a BOM on line 1', () => {
    expect(kinds(['\ufeffnumber', '0612345678'])).toEqual(['header', 'number:0612345678']);
    expect(kinds(['\ufeff0612345678'])).toEqual(['number:0612345678']);
    expect(kinds(['\ufeff'])).toEqual(['blank']);
    expect(kinds(['\ufeff# c'])).toEqual(['comment']);
  });

  it('tolerates a trailing CR', () => {
    expect(kinds(['number\r', '0612345678;x\r', '\r'])).toEqual(['header', 'number:0612345678', 'blank']);
  });

  it('makes a digitless first field with other columns a header first, bad later', () => {
    expect(kinds(['"";"date"', '"";"2024"'])).toEqual(['header', 'bad']);
  });
});

describe('LineSplitter', () => {
  function split(chunks: readonly string[]): string[] {
    const out: string[] = [];
    const s = new LineSplitter((l) => out.push(l));
    for (const c of chunks) s.push(c);
    s.end();
    return out;
  }

  it('splits LF and CRLF, with or without a final terminator', () => {
    expect(split(['a\nb\r\nc'])).toEqual(['a', 'b', 'c']);
    expect(split(['a\nb\r\n'])).toEqual(['a', 'b']);
    expect(split(['a\n\n'])).toEqual(['a', '']);
    expect(split(['\n'])).toEqual(['']);
    expect(split([''])).toEqual([]);
    expect(split([])).toEqual([]);
  });

  it('gives the same lines for every pair of cut points', () => {
    const text = '\ufeffnumber\r\n0612345678\r\n\r\n06 12\n34\r\n#x\nlast';
    const expected = ['\ufeffnumber', '0612345678', '', '06 12', '34', '#x', 'last'];
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        expect(split([text.slice(0, i), text.slice(i, j), text.slice(j)])).toEqual(expected);
      }
    }
  });

  it('handles one-character chunks and empty chunks', () => {
    const text = 'a\r\nbb\r\n\r\nccc';
    expect(split([...text].flatMap((c) => [c, '']))).toEqual(['a', 'bb', '', 'ccc']);
  });

  it('only strips one CR at the end of a line', () => {
    expect(split(['a\r\r\nb\rc\n'])).toEqual(['a\r', 'b\rc']);
  });
});

describe('ListAccumulator', () => {
  function accumulate(lines: readonly string[], initialCapacity?: number) {
    const acc = new ListAccumulator(tenDigits, initialCapacity);
    for (const l of lines) acc.addLine(l);
    return acc.result();
  }

  it('tallies every kind of line with exact counts', () => {
    const r = accumulate(['# c', 'telephone;date', '0612345678;2024', '', 'nope', '06 12 34 56 79', '12345', '#', '   ']);
    expect(r).toMatchObject({
      lines: 9,
      numbers: 2,
      blank: 2,
      comments: 2,
      header: true,
      badLines: 2,
      badLineNumbers: [5, 7],
    });
    expect([...r.keys]).toEqual([33612345678, 33612345679]);
    expect(r.lines).toBe(r.numbers + r.blank + r.comments + (r.header ? 1 : 0) + r.badLines);
  });

  it('keeps duplicates and file order, unsorted', () => {
    const r = accumulate(['0612345679', '0612345678', '06.12.34.56.79']);
    expect([...r.keys]).toEqual([33612345679, 33612345678, 33612345679]);
  });

  it('grows the key buffer and returns exactly `numbers` keys', () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `06${String(i).padStart(8, '0')}`);
    const r = accumulate(lines, 16);
    expect(r.numbers).toBe(1000);
    expect(r.keys).toBeInstanceOf(Float64Array);
    expect(r.keys.length).toBe(1000);
    expect(r.keys[999]).toBe(33600000999);
  });

  it('returns the buffer itself when exactly full', () => {
    const r = accumulate(Array.from({ length: 16 }, (_, i) => `06000000${String(i).padStart(2, '0')}`), 16);
    expect(r.keys.length).toBe(16);
  });

  it('counts every bad line but keeps only the first 20 line numbers', () => {
    const lines = ['0612345678', ...Array.from({ length: 25 }, () => 'x')];
    const r = accumulate(lines);
    expect(r.badLines).toBe(25);
    expect(r.badLineNumbers).toEqual(Array.from({ length: MAX_BAD_LINE_NUMBERS }, (_, i) => i + 2));
  });

  it('gives an empty result for no lines', () => {
    const r = accumulate([]);
    expect(r).toMatchObject({ lines: 0, numbers: 0, blank: 0, comments: 0, header: false, badLines: 0, badLineNumbers: [] });
    expect(r.keys.length).toBe(0);
  });
});

describe('ListAccumulator: a line with two readings (numbers/normalise.ts rule 9)', () => {
  // '687751234' is +33687751234 (a French mobile missing its 0) or New Caledonia's +687751234.
  const lines = ['687751234', '+33612345678', '508 41 12 34,extra'];

  it('a deny-list lists every reading, counting each line once', () => {
    const acc = new ListAccumulator(normalise, 16, { kind: 'deny' });
    for (const l of lines) acc.addLine(l);
    const r = acc.result();
    expect(r).toMatchObject({ lines: 3, numbers: 3, badLines: 0 });
    expect([...r.keys]).toEqual([33687751234, 687751234, 33612345678, 33508411234, 508411234]);
  });

  it('is the default (no kind given): the safe reading of a deny-list', () => {
    const acc = new ListAccumulator(normalise, 16);
    acc.addLine('687751234');
    expect([...acc.result().keys]).toEqual([33687751234, 687751234]);
  });

  it('an allow-list line with two readings grants nothing: a bad line', () => {
    const acc = new ListAccumulator(normalise, 16, { kind: 'allow' });
    for (const l of lines) acc.addLine(l);
    const r = acc.result();
    expect(r).toMatchObject({ lines: 3, numbers: 1, badLines: 2, badLineNumbers: [1, 3] });
    expect([...r.keys]).toEqual([33612345678]);
  });

  it('a consent list (terms) is an allow-list whatever kind says', () => {
    const acc = new ListAccumulator(normalise, 16, { terms: true });
    acc.addLine('687751234,2026-01-01');
    acc.addLine('0687751234,2026-01-01');
    const r = acc.result();
    expect(r).toMatchObject({ numbers: 1, badLines: 1, badLineNumbers: [1] });
    expect([...r.keys]).toEqual([33687751234]);
  });
});
