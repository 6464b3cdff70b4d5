import { describe, expect, it } from 'vitest';
import { DATE_HOLIDAYS_VERSION, HOLIDAY_REGIONS, type HolidayRegion, holidaysOf, isPublicHoliday } from '../../../src/rules/holidays.js';

/**
 * The official lists, written out by hand (Code du travail L3133-1; décret 83-1003 for the abolition
 * days; L3134-13 for Alsace-Moselle). Easter 2026 = 5 April, Easter 2027 = 28 March.
 */
const NATIONAL: Record<number, string[]> = {
  2026: [
    '2026-01-01', // Jour de l'an
    '2026-04-06', // lundi de Pâques
    '2026-05-01', // fête du Travail
    '2026-05-08', // Victoire 1945
    '2026-05-14', // Ascension (Easter + 39)
    '2026-05-25', // lundi de Pentecôte (Easter + 50)
    '2026-07-14',
    '2026-08-15',
    '2026-11-01',
    '2026-11-11',
    '2026-12-25',
  ],
  2027: [
    '2027-01-01',
    '2027-03-29',
    '2027-05-01',
    '2027-05-06',
    '2027-05-08',
    '2027-05-17',
    '2027-07-14',
    '2027-08-15',
    '2027-11-01',
    '2027-11-11',
    '2027-12-25',
  ],
};

const GOOD_FRIDAY: Record<number, string> = { 2026: '2026-04-03', 2027: '2027-03-26' };

/** Days each region adds to the national list. */
function extras(region: HolidayRegion, year: number): string[] {
  const gf = GOOD_FRIDAY[year] as string;
  switch (region) {
    // Metropolitan = national ∪ Alsace-Moselle (a +33 number does not say where its owner lives).
    case 'FR': return [gf, `${year}-12-26`];
    // Good Friday: customarily not worked in the Antilles and typed `public` by date-holidays; kept
    // (blocking is safe). Abolition of slavery: Guadeloupe 27 May, Martinique 22 May.
    case 'GP': return [gf, `${year}-05-27`];
    case 'MQ': return [gf, `${year}-05-22`];
    case 'GF': return [`${year}-06-10`];
    case 'RE': return [`${year}-12-20`];
    case 'YT': return [`${year}-04-27`];
    case 'MF': return [`${year}-05-27`];
    case 'BL': return [`${year}-10-09`];
    case 'PM': return [];
    case 'GP+MF+BL': return [gf, `${year}-05-27`, `${year}-10-09`];
    default: {
      const never: never = region;
      return never;
    }
  }
}

function expected(region: HolidayRegion, year: number): string[] {
  return [...new Set([...(NATIONAL[year] as string[]), ...extras(region, year)])].sort();
}

describe('holidaysOf', () => {
  for (const year of [2026, 2027]) {
    for (const region of HOLIDAY_REGIONS) {
      it(`${region} ${year} is exactly the official list`, () => {
        expect(holidaysOf(region, year)).toEqual(expected(region, year));
      });
    }
  }

  it('national days are holidays in every region', () => {
    for (const region of HOLIDAY_REGIONS) {
      for (const day of [...(NATIONAL[2026] as string[]), ...(NATIONAL[2027] as string[])]) {
        expect(isPublicHoliday(region, day), `${region} ${day}`).toBe(true);
      }
    }
  });
});

describe('isPublicHoliday', () => {
  it('knows each overseas abolition day in its own region only', () => {
    const days: [HolidayRegion, string][] = [
      ['YT', '2026-04-27'], ['MQ', '2026-05-22'], ['GP', '2026-05-27'], ['GF', '2026-06-10'], ['RE', '2026-12-20'],
      ['YT', '2027-04-27'], ['MQ', '2027-05-22'], ['GP', '2027-05-27'], ['GF', '2027-06-10'], ['RE', '2027-12-20'],
    ];
    for (const [region, day] of days) {
      expect(isPublicHoliday(region, day), `${region} ${day}`).toBe(true);
      for (const other of ['FR', 'GP', 'MQ', 'GF', 'RE', 'YT'] as const) {
        if (other !== region) expect(isPublicHoliday(other, day), `${other} ${day}`).toBe(false);
      }
    }
  });

  it('counts Alsace-Moselle days for metropolitan numbers only', () => {
    expect(isPublicHoliday('FR', '2026-04-03')).toBe(true);
    expect(isPublicHoliday('FR', '2026-12-26')).toBe(true);
    expect(isPublicHoliday('RE', '2026-04-03')).toBe(false);
    expect(isPublicHoliday('GF', '2026-12-26')).toBe(false);
    expect(isPublicHoliday('YT', '2027-12-26')).toBe(false);
  });

  it('ignores observances and optional days', () => {
    expect(isPublicHoliday('FR', '2026-04-05')).toBe(false); // Easter Sunday
    expect(isPublicHoliday('FR', '2026-05-24')).toBe(false); // Pentecost Sunday (observance)
    expect(isPublicHoliday('FR', '2026-05-31')).toBe(false); // Mother's Day (observance)
    expect(isPublicHoliday('GP', '2026-07-21')).toBe(false); // Schoelcher day: `optional`, no longer a legal holiday
    expect(isPublicHoliday('BL', '2026-04-03')).toBe(false); // Good Friday is only `bank` there
    expect(isPublicHoliday('FR', '2026-05-10')).toBe(false); // national slavery remembrance: not a holiday
  });

  it('answers false on ordinary days', () => {
    for (const day of ['2026-01-02', '2026-03-30', '2026-06-01', '2026-12-01', '2026-12-24', '2026-12-31', '2027-04-05', '2027-05-24']) {
      for (const region of HOLIDAY_REGIONS) expect(isPublicHoliday(region, day), `${region} ${day}`).toBe(false);
    }
  });
});

it('exposes the library version for the audit trail', () => {
  expect(DATE_HOLIDAYS_VERSION).toMatch(/^\d+\.\d+\.\d+/);
});
