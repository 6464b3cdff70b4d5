import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalise, otherReading, readingsFull, readingsOf } from '../../../src/numbers/normalise.js';
import { callingCodes, typePatterns } from '../../../src/numbers/phone-metadata.js';

/**
 * Rule 9 of src/numbers/normalise.ts (several readings of one input), over every calling code the metadata
 * knows. Fixed seeds: a failure reproduces. The property the gate rests on: a number N listed in '+'
 * form is among the readings of every way of writing it that the normaliser accepts, so a check of
 * any such writing looks N up and blocks; a writing it does not accept blocks as invalid_number.
 */

const SEED = 0x11_05;
const CODES = callingCodes();
const SEPARATORS = [' ', '.', '-', '/', '\u00a0', '\t', '(', ')', '\u202f'];

const separators = fc.array(fc.tuple(fc.nat(), fc.constantFrom(...SEPARATORS)), { maxLength: 3 });

function withSeparators(text: string, cuts: ReadonlyArray<readonly [number, string]>): string {
  let out = text;
  for (const [at, sep] of cuts) {
    const i = at % (out.length + 1);
    out = out.slice(0, i) + sep + out.slice(i);
  }
  return out;
}

/** A valid number of calling code `cc` in E.164, generated from the metadata's own type patterns. */
function validNumbers(cc: string): fc.Arbitrary<string> {
  const patterns = typePatterns(cc);
  return fc
    .constantFrom(...patterns)
    .chain((p) => fc.stringMatching(new RegExp(`^(?:${p})$`)))
    .map((nsn) => normalise(`+${cc}${nsn}`))
    .filter((n): n is string => n !== null);
}

/** The ways a list or a dialer writes N: '+', '00', bare digits (a spreadsheet lost the '+'), with separators. */
const writing = fc.tuple(fc.constantFrom('+', '00', '', '+ ', '(+', ' '), separators);

function written(n: string, [prefix, cuts]: readonly [string, ReadonlyArray<readonly [number, string]>]): string {
  return withSeparators(prefix + n.slice(1), cuts);
}

describe('readings: a number listed in + form is among the readings of every accepted writing of it', () => {
  it.each(CODES)('calling code %s', (cc) => {
    fc.assert(
      fc.property(validNumbers(cc), writing, (n, w) => {
        const raw = written(n, w);
        const readings = readingsOf(raw);
        // Not accepted at all: invalid_number, a block. Accepted: N must be one of the readings.
        if (readings.length > 0) expect({ raw, readings, has: readings.includes(n) }).toEqual({ raw, readings, has: true });
        expect({ raw, readings }).toEqual({ raw, readings: readingsFull(raw) });
      }),
      { seed: SEED, numRuns: 30 },
    );
  });
});

describe('readings: the cheap test agrees with the reference definition', () => {
  it.each(CODES)('9 bare digits starting with calling code %s', (cc) => {
    const rest = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 9 - cc.length, maxLength: 9 - cc.length }).map((ds) => ds.join(''));
    fc.assert(
      fc.property(rest, separators, (r, cuts) => {
        const raw = withSeparators(cc + r, cuts);
        expect({ raw, readings: readingsOf(raw) }).toEqual({ raw, readings: readingsFull(raw) });
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('any input: digits, separators, +, 00, (0), garbage (5k)', () => {
    const chars = fc.constantFrom(...'01234567890123456789', ' ', '.', '-', '(', ')', '+', '(0)', '00', 'x', '\u00a0');
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 20 }), (cs) => {
        const raw = cs.join('');
        expect({ raw, readings: readingsOf(raw) }).toEqual({ raw, readings: readingsFull(raw) });
      }),
      { seed: SEED, numRuns: 5_000 },
    );
  });

  it('only 9 bare digits can have a second reading', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 15 }), (ds) => {
        const raw = ds.join('');
        if (readingsFull(raw).length > 1) expect({ raw, length: raw.length }).toEqual({ raw, length: 9 });
      }),
      { seed: SEED, numRuns: 5_000 },
    );
  });
});

describe('readings: the cases of DOMAIN.md', () => {
  it.each([
    ['508 41 12 34', '+33508411234', '+508411234'], // Saint-Pierre-et-Miquelon
    ['687 75 12 34', '+33687751234', '+687751234'], // New Caledonia
    ['681 72 12 34', '+33681721234', '+681721234'], // Wallis-et-Futuna
  ])('%s reads as %s and as %s', (raw, french, other) => {
    expect(readingsOf(raw)).toEqual([french, other]);
    expect(otherReading(raw)).toBe(other);
  });

  it.each(['0687751234', '+687751234', '00687751234', '+33687751234', '33687751234', '612345678', '0612345678'])('%s has one reading', (raw) => {
    expect(readingsOf(raw)).toHaveLength(1);
    expect(otherReading(raw)).toBeNull();
  });
});
