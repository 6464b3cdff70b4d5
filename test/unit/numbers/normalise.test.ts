import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAST_PATH_CALLING_CODES, NORMALISER_VERSION, normalise, normaliseFull } from '../../../src/numbers/normalise.js';
import { parseInternationalValid } from '../../../src/numbers/phone-metadata.js';

/**
 * The rules of src/numbers/normalise.ts, in both directions: every written form of one line gives the same
 * E.164 (each row), and distinct lines give distinct E.164s (across rows). Both entry points.
 */
const SAME_LINE: ReadonlyArray<readonly [label: string, e164: string, forms: readonly string[]]> = [
  ['metropolitan mobile 06', '+33612345678', [
    '0612345678', '06 12 34 56 78', '06.12.34.56.78', '06-12-34-56-78', '06/12/34/56/78', '06\u00a012\u00a034\u00a056\u00a078',
    '06\u202f12\u202f34\u202f56\u202f78', '\t06 12 34 56 78 ', '0612345678\r', '(06) 12 34 56 78', '(0)6 12 34 56 78',
    '612345678', '6 12 34 56 78', // rule 5: leading 0 lost by a spreadsheet
    '+33612345678', '+33 6 12 34 56 78', '+33.6.12.34.56.78', ' +33 6 12 34 56 78', '(+33) 6 12 34 56 78',
    '+33 (0)6 12 34 56 78', '+33(0)612345678', '0033 (0)6 12 34 56 78', // rule 2
    '0033612345678', '00 33 6 12 34 56 78', '33612345678', '33 6 12 34 56 78', // rules 3, 6
    '+33 0612345678', '+33 06 12 34 56 78', '0033 0612345678', '330612345678', '+33 (0) 06 12 34 56 78', // rule 7 trunk 0
  ]],
  ['metropolitan mobile 07', '+33781234567', ['07 81 23 45 67', '781234567', '+33 7 81 23 45 67', '33781234567', '0033781234567']],
  ['metropolitan fixed 01', '+33142685300', ['01 42 68 53 00', '142685300', '+33 1 42 68 53 00', '+33 (0)1 42 68 53 00', '33142685300']],
  ['metropolitan fixed 02', '+33299123456', ['02 99 12 34 56', '+33299123456']],
  ['metropolitan fixed 03', '+33388123456', ['03 88 12 34 56', '388123456', '0033 3 88 12 34 56']],
  ['metropolitan fixed 04', '+33491123456', ['04.91.12.34.56', '+33491123456']],
  ['metropolitan fixed 05', '+33556123456', ['05 56 12 34 56', '33556123456']],
  ['non-geographic 09', '+33972123456', ['09 72 12 34 56', '972123456', '+33 9 72 12 34 56']],
  ['Guadeloupe fixed', '+590590912345', ['0590 91 23 45', '590912345', '+590 590 91 23 45', '00590590912345', '590590912345', '+33 590 91 23 45', '33590912345', '+590 0590 91 23 45']],
  ['Guadeloupe mobile 0690', '+590690123456', ['0690 12 34 56', '690123456', '+590 690 12 34 56', '+33 6 90 12 34 56', '0033690123456', '5900690123456']],
  ['Guadeloupe mobile 0691', '+590691231234', ['0691 23 12 34', '+590691231234', '+33691231234']],
  ['Saint-Martin fixed', '+590590871234', ['0590 87 12 34', '+590 590 87 12 34', '+33 590 87 12 34']],
  ['Guyane fixed', '+594594301234', ['0594 30 12 34', '594301234', '+594 594 30 12 34', '594594301234', '+33594301234', '+594 (0)594 30 12 34']],
  ['Guyane mobile', '+594694201234', ['0694 20 12 34', '+594694201234', '+33 694 20 12 34']],
  ['Martinique fixed', '+596596757617', ['0596 75 76 17', '596757617', '+596 596 75 76 17', '596596757617', '+33 596 75 76 17', '33596757617', '0033596757617', '+33 0 596 75 76 17']],
  ['Martinique mobile 0696', '+596696201234', ['0696 20 12 34', '+596696201234', '+33696201234']],
  ['Martinique mobile 0697', '+596697123456', ['0697 12 34 56', '+33 697 12 34 56']],
  ['Réunion fixed 0262', '+262262201234', ['0262 20 12 34', '262201234', '+262 262 20 12 34', '262262201234', '+33 262 20 12 34']],
  ['Réunion fixed 0263', '+262263101234', ['0263 10 12 34', '+262263101234', '+33263101234']],
  ['Réunion mobile 0692', '+262692123456', ['0692 12 34 56', '0692123456', '692123456', '+262 692 12 34 56', '262692123456', '+33 692 12 34 56', '33692123456', '+262 0692123456', '2620692123456', '33 0692 12 34 56', '00262692123456']],
  ['Réunion mobile 0693', '+262693012345', ['0693 01 23 45', '+262693012345', '+33693012345']],
  ['Mayotte fixed', '+262269601234', ['0269 60 12 34', '269601234', '+262 269 60 12 34', '+33 269 60 12 34']],
  ['Mayotte mobile', '+262639201234', ['0639 20 12 34', '+262 639 20 12 34', '+33 639 20 12 34', '33639201234']],
  ['Comoros (+269 is NOT Mayotte)', '+2693212345', ['+269 321 23 45', '00269 321 23 45']],
  ['UK London', '+442079460000', ['+44 20 7946 0000', '+44 (0)20 7946 0000', '0044 20 7946 0000', '+44 020 7946 0000']],
  ['US', '+12125551234', ['+1 212 555 1234', '+1 (212) 555-1234', '001 212 555 1234']],
  ['Germany', '+4930123456', ['+49 30 123456', '+49 (0)30 123456', '0049 30 123456']],
  ['Belgium', '+32470123456', ['+32 470 12 34 56', '+32 (0)470 12 34 56']],
  ['Switzerland', '+41791234567', ['+41 79 123 45 67', '0041 79 123 45 67']],
];

const INVALID: ReadonlyArray<readonly [reason: string, raw: string]> = [
  ['empty', ''],
  ['only spaces', '   '],
  ['plus alone', '+'],
  ['all zeros', '0000000000'],
  ['too short', '06 12 34'],
  ['too short international', '+33 6 12 34 56 7'],
  ['too long', '06 12 34 56 78 9'],
  ['too long international', '+33 6 12 34 56 78 9'],
  ['9 digits starting with 0', '061234567'],
  ['over 40 characters', `06 12 34 56 78${' '.repeat(27)}`],
  ['letters', '06 CALL ME'],
  ['vanity letters', '+33 6 12 34 56 AB'],
  ['extension', '0612345678 ext 12'],
  ['extension x', '+33 6 12 34 56 78 x12'],
  ['hash', '0612345678#'],
  ['star', '*0612345678'],
  ['comma', '06,12,34,56,78'],
  ['full-width digits', '\uff10\uff16\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18'],
  ['two plus signs', '++33612345678'],
  ['plus after a digit', '3+3612345678'],
  ['plus then 00', '+0033612345678'],
  ['(0) not after the country code', '+33 6 (0)12 34 56 78'],
  ['two (0)', '+33 (0)(0)6 12 34 56 78'],
  ['(0) after no country code', '+(0)6 12 34 56 78'],
  ['foreign without +', '2125551234'],
  ['UK without +', '442079460000'],
  ['invalid metropolitan range', '07 00 00 00 00'],
  ['Réunion prefix under the Martinique code', '+596 692 12 34 56'],
  ['Martinique prefix under the Réunion code', '+262 596 75 76 17'],
  ['trunk 0 before a wrong overseas code', '+590 0692123456'],
  ['unknown country code', '+999 123 456 789'],
  ['10 digits not starting with 0', '6123456789'],
  ['33 + 10 digits without a trunk 0', '336123456789'],
];

describe('normalise: the rules table', () => {
  for (const [label, e164, forms] of SAME_LINE) {
    it(`${label}: every written form gives ${e164}`, () => {
      for (const raw of forms) {
        expect({ raw, full: normaliseFull(raw), fast: normalise(raw) }).toEqual({ raw, full: e164, fast: e164 });
      }
    });
  }

  it('distinct lines give distinct E.164s', () => {
    const e164s = SAME_LINE.map(([, e164]) => e164);
    expect(new Set(e164s).size).toBe(e164s.length);
  });

  for (const [reason, raw] of INVALID) {
    it(`null: ${reason}`, () => {
      expect(normaliseFull(raw)).toBeNull();
      expect(normalise(raw)).toBeNull();
    });
  }
});

describe('normalise: library facts the rules rely on (libphonenumber-js max)', () => {
  it('calls +33596757617 valid, hence rule 7 maps it to Martinique', () => {
    expect(parseInternationalValid('+33596757617')).toBe('+33596757617');
    expect(normalise('+33596757617')).toBe('+596596757617');
  });

  it('calls +33269601234 (Mayotte prefix) valid, hence rule 7 maps it to +262', () => {
    expect(parseInternationalValid('+33269601234')).toBe('+33269601234');
    expect(normalise('+33269601234')).toBe('+262269601234');
  });

  it('rejects +33692123456, which the default metadata accepts', () => {
    expect(parseInternationalValid('+33692123456')).toBeNull();
  });

  it('accepts extensions and trims letters, which rule 1 refuses', () => {
    expect(parseInternationalValid('+33612345678 ext 12')).toBe('+33612345678');
    expect(normalise('+33612345678 ext 12')).toBeNull();
  });
});

describe('NORMALISER_VERSION', () => {
  it('names the normaliser revision and the installed libphonenumber-js version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../node_modules/libphonenumber-js/package.json', import.meta.url), 'utf8')) as { version: string };
    expect(NORMALISER_VERSION).toBe(`n2/lpn-${pkg.version}`);
  });
});

describe('fast path', () => {
  it('validates all five French calling codes itself (else a metadata change silently made it slow)', () => {
    expect([...FAST_PATH_CALLING_CODES].sort()).toEqual(['262', '33', '590', '594', '596']);
  });
});
