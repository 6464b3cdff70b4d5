/**
 * French public holidays per region: the one file that imports `date-holidays`.
 *
 * Décret 2022-1313 forbids canvassing calls on public holidays ("jours fériés", Code du travail
 * L3133-1) in the consumer's territory. Only holidays the library types `public` count, not observances
 * (Pentecost Sunday, Mother's Day) nor `optional` days (21 July in the Antilles: no longer a legal holiday
 * since loi 83-550 / décret 83-1003 replaced it by the abolition days).
 */
import { createRequire } from 'node:module';
import Holidays from 'date-holidays';

/** Installed date-holidays version, for the audit trail: its data decides which days are holidays. */
export const DATE_HOLIDAYS_VERSION: string = readLibraryVersion();

function readLibraryVersion(): string {
  const pkg: unknown = createRequire(import.meta.url)('date-holidays/package.json');
  const version = typeof pkg === 'object' && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
  if (typeof version !== 'string' || version === '') throw new Error('date-holidays/package.json has no version');
  return version;
}

/**
 * Where a consumer's holidays come from.
 * - `FR`: metropolitan France, INCLUDING Alsace-Moselle's two local days (Good Friday, 26 December;
 *   Code du travail L3134-13). A +33 number does not say whether its owner lives in Moselle or Alsace;
 *   blocking an allowed call on those days is harmless, calling on a local public holiday is not.
 * - `GP` Guadeloupe, `MQ` Martinique, `GF` Guyane, `RE` Réunion, `YT` Mayotte: national days plus the
 *   abolition-of-slavery day (décret 83-1003), and Good Friday where the library has it public (GP, MQ).
 * - `MF` Saint-Martin, `BL` Saint-Barthélemy, `PM` Saint-Pierre-et-Miquelon.
 * - `GP+MF+BL`: the union of the three +590 territories, for numbers whose island we cannot tell.
 */
export type HolidayRegion = 'FR' | 'GP' | 'MQ' | 'GF' | 'RE' | 'YT' | 'MF' | 'BL' | 'PM' | 'GP+MF+BL';

export const HOLIDAY_REGIONS: readonly HolidayRegion[] = ['FR', 'GP', 'MQ', 'GF', 'RE', 'YT', 'MF', 'BL', 'PM', 'GP+MF+BL'];

/** The date-holidays calendars (country, state) whose public days make up each region. */
const SOURCES: Readonly<Record<HolidayRegion, readonly (readonly [string, string?])[]>> = {
  // FR-57 / FR-67 / FR-68 = national days + Good Friday + 26 Dec; FR itself for the national list.
  FR: [['FR'], ['FR', '57'], ['FR', '67'], ['FR', '68']],
  GP: [['FR', 'GP']],
  MQ: [['FR', 'MQ']],
  GF: [['FR', 'GF']],
  RE: [['FR', 'RE']],
  YT: [['FR', 'YT']],
  MF: [['FR', 'MF']],
  BL: [['FR', 'BL']],
  PM: [['PM']],
  'GP+MF+BL': [['FR', 'GP'], ['FR', 'MF'], ['FR', 'BL']],
};

/** Holidays depend only on (region, year): computed once, then a Set lookup per check. */
const cache = new Map<string, ReadonlySet<string>>();

function compute(region: HolidayRegion, year: number): ReadonlySet<string> {
  const days = new Set<string>();
  for (const [country, state] of SOURCES[region]) {
    const hd = state === undefined ? new Holidays(country, { types: ['public'] }) : new Holidays(country, state, { types: ['public'] });
    for (const h of hd.getHolidays(year)) {
      // `date` is the local calendar date ('YYYY-MM-DD 00:00:00'), independent of the process's zone.
      if (h.type === 'public') days.add(h.date.slice(0, 10));
    }
  }
  return days;
}

function daysOf(region: HolidayRegion, year: number): ReadonlySet<string> {
  const key = `${region}:${year}`;
  let days = cache.get(key);
  if (days === undefined) {
    days = compute(region, year);
    cache.set(key, days);
  }
  return days;
}

/** True when `localDate` ('YYYY-MM-DD', the consumer's calendar date) is a public holiday in `region`. */
export function isPublicHoliday(region: HolidayRegion, localDate: string): boolean {
  const year = Number(localDate.slice(0, 4));
  return daysOf(region, year).has(localDate);
}

/** The region's public holidays of `year`, as sorted 'YYYY-MM-DD' dates. */
export function holidaysOf(region: HolidayRegion, year: number): string[] {
  return [...daysOf(region, year)].sort();
}
