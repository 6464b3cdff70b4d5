import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalise, normaliseFull } from '../../../src/numbers/normalise.js';
import { callingCodes, typePatterns } from '../../../src/numbers/phone-metadata.js';

/**
 * `normalise` (fast path) must answer exactly what `normaliseFull` (reference) answers, for every
 * input: a difference is a listed line that the dialer's form of the number no longer matches.
 * About 200k inputs in all, every shape the fast path handles plus garbage around it.
 */

const OVERSEAS = ['590', '594', '596', '262', '263', '269', '639', '690', '691', '692', '693', '694', '696', '697'];
const SEPARATORS = [' ', '.', '-', '/', '\u00a0'];
const ODD_SEPARATORS = ['\t', '\u202f', '(', ')', '(0)', '+', '', '  '];
const GARBAGE = [...'0123456789', ...'0123456789', ' ', '.', '-', '/', '(', ')', '+', '\u00a0', '\t', 'a', 'x', 'E', '#', '*', ',', '\uff10', '\u0660'];

const digitString = (min: number, max: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((ds) => ds.join(''));

/** A national significant number: a French or overseas prefix (or random digits), then digits, 7–14 long. */
const nsn = fc.oneof(
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...OVERSEAS), digitString(4, 11)).map(([p, d]) => p + d) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: 9 }), digitString(6, 13)).map(([p, d]) => `${p}${d}`) },
  { weight: 12, arbitrary: fc.tuple(fc.constantFrom(...OVERSEAS, '6', '7', '1', '9', '8', '5'), digitString(0, 12)).map(([p, d]) => (p + d + '12345678').slice(0, 9)) },
  { weight: 1, arbitrary: digitString(7, 14) },
);

/** How the number is written before separators: rules 3–7 and their near misses. */
const prefix = fc.constantFrom(
  '', '0', '00', '+33', '+33 0', '+330', '0033', '00330', '33', '330', '+33(0)',
  '+262', '+2620', '262', '2620', '00262', '+590', '590', '5900', '+594', '594', '+596', '596', '00596', '+596 (0)',
  '+269', '+44', '+1', '0044', '+', '++33', '+0033', '3', '0000',
);

/** Inserts separators at random positions. */
const withSeparators = (text: string, cuts: ReadonlyArray<readonly [number, string]>): string => {
  let out = text;
  for (const [at, sep] of cuts) {
    const i = at % (out.length + 1);
    out = out.slice(0, i) + sep + out.slice(i);
  }
  return out;
};
const separator = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...SEPARATORS) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_SEPARATORS) });
const cuts = (max: number) => fc.array(fc.tuple(fc.nat(), separator), { maxLength: max });
const groupedSpaces = fc.boolean();

const written = fc.tuple(prefix, nsn, cuts(3), groupedSpaces).map(([p, n, c, grouped]) => {
  const body = grouped ? (n.match(/.{1,2}/g) ?? [n]).join(' ') : n;
  return withSeparators(p + body, c);
});

const garbage = fc.array(fc.constantFrom(...GARBAGE), { minLength: 0, maxLength: 44 }).map((cs) => cs.join(''));

/** A correct line with one character removed, added or replaced: the near misses. */
const mutated = fc.tuple(written, fc.nat(), fc.constantFrom(...GARBAGE), fc.constantFrom('delete', 'insert', 'replace')).map(([s, at, ch, op]) => {
  const i = at % (s.length + 1);
  if (op === 'delete') return s.slice(0, i) + s.slice(i + 1);
  if (op === 'insert') return s.slice(0, i) + ch + s.slice(i);
  return s.slice(0, i) + ch + s.slice(i + 1);
});

function agrees(raw: string): void {
  expect({ raw, fast: normalise(raw) }).toEqual({ raw, fast: normaliseFull(raw) });
}

describe('normalise fast path = normaliseFull', () => {
  it('written French, overseas and foreign shapes (100k)', () => {
    fc.assert(fc.property(written, (raw) => agrees(raw)), { numRuns: 100_000 });
  });

  it('near misses: one character deleted, inserted or replaced (40k)', () => {
    fc.assert(fc.property(mutated, (raw) => agrees(raw)), { numRuns: 40_000 });
  });

  it('garbage (20k)', () => {
    fc.assert(fc.property(garbage, (raw) => agrees(raw)), { numRuns: 20_000 });
  });

  it('every 4-digit start of a 9-digit number under each French code, nationally and internationally', () => {
    // Deterministic sweep so that narrow metadata ranges (e.g. Mayotte 639 2x) are all hit.
    let checked = 0;
    for (let start = 1000; start <= 9999; start++) {
      const n = `${start}${String((start * 7919) % 100_000).padStart(5, '0')}`;
      const forms = [`0${n}`, `+33${n}`];
      if (start % 3 === 0) forms.push(`+262${n}`, `+590${n}`, `+594${n}`, `+596${n}`);
      for (const raw of forms) {
        agrees(raw);
        checked++;
      }
    }
    expect(checked).toBe(30_000);
  });

  it('every calling code: valid numbers from its own type patterns and random digits, after + or 00', () => {
    // The foreign fast path (compiled plan validity, reference parse where a national prefix may be stripped).
    const codes = callingCodes();
    const valid = fc
      .constantFrom(...codes)
      .chain((cc) => fc.constantFrom(...typePatterns(cc)).chain((p) => fc.stringMatching(new RegExp(`^(?:${p})$`))).map((n) => [cc, n] as const));
    const random = fc.tuple(fc.constantFrom(...codes), digitString(6, 14));
    fc.assert(
      fc.property(fc.oneof(valid, random), fc.constantFrom('+', '00', '+ ', '00 '), fc.constantFrom('', ' ', '-'), ([cc, n], intl, sep) => agrees(`${intl}${cc}${sep}${n}`)),
      { seed: 0x17, numRuns: 20_000 },
    );
  });
});
