/**
 * Where the consumer is, as far as the hours rule cares: the time zone their calling hours are counted
 * in and the public holidays that apply to them, read from their E.164 number (décret 2022-1313: hours
 * are the consumer's, not the caller's). Pure: no I/O, no clock.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { HolidayRegion } from './holidays.js';

export interface ConsumerZone {
  /** IANA time zone the consumer's calling hours are counted in. */
  readonly timezone: string;
  /** French holidays that apply, or null when none do (numbers outside French law). */
  readonly holidayRegion: HolidayRegion | null;
}

const PARIS: ConsumerZone = Object.freeze({ timezone: 'Europe/Paris', holidayRegion: 'FR' });
const REUNION: ConsumerZone = Object.freeze({ timezone: 'Indian/Reunion', holidayRegion: 'RE' });
const MAYOTTE: ConsumerZone = Object.freeze({ timezone: 'Indian/Mayotte', holidayRegion: 'YT' });
// Guadeloupe, Saint-Martin and Saint-Barthélemy share +590, the same clock (UTC−4, no DST) and mobile
// ranges (0690/0691) that say nothing of the island; fixed-line blocks could tell them apart but a wrong
// block table would be a wrong allow on another island's holiday. The union of their holidays costs at
// most two blocked weekdays a year (27 May is common to GP and MF; BL adds 9 October).
const ANTILLES_590: ConsumerZone = Object.freeze({ timezone: 'America/Guadeloupe', holidayRegion: 'GP+MF+BL' });
const MARTINIQUE: ConsumerZone = Object.freeze({ timezone: 'America/Martinique', holidayRegion: 'MQ' });
const GUYANE: ConsumerZone = Object.freeze({ timezone: 'America/Cayenne', holidayRegion: 'GF' });
const MIQUELON: ConsumerZone = Object.freeze({ timezone: 'America/Miquelon', holidayRegion: 'PM' });

/**
 * +262 is shared by Réunion (UTC+4) and Mayotte (UTC+3): the national number's leading digits decide.
 * Ranges from the ARCEP plan as libphonenumber-js (max metadata, RE / YT) encodes them: fixed, mobile
 * (including the new 07 09x ranges) and VoIP. Longest prefix wins.
 */
const PREFIXES_262: ReadonlyMap<string, ConsumerZone> = new Map([
  ['262', REUNION], ['263', REUNION], ['2688', REUNION], ['692', REUNION], ['693', REUNION], ['7092', REUNION],
  ['9399', REUNION], ['9479', REUNION], ['9762', REUNION], ['9763', REUNION],
  ['269', MAYOTTE], ['2689', MAYOTTE], ['639', MAYOTTE], ['7093', MAYOTTE],
  ['9398', MAYOTTE], ['9478', MAYOTTE], ['9769', MAYOTTE],
]);

const E164 = /^\+[1-9]\d{1,14}$/;

/**
 * The consumer's zone.
 * - French numbers: their territory's zone and holidays (+33 metropolitan France, +262 Réunion or
 *   Mayotte, +590 Guadeloupe / Saint-Martin / Saint-Barthélemy, +594 Guyane, +596 Martinique,
 *   +508 Saint-Pierre-et-Miquelon). A +33 number is always Paris time: nothing in it says its owner
 *   lives overseas.
 * - Any other number: `foreignDefault` (the operator's configured zone) and no French holidays. French
 *   canvassing rules protect consumers in France; a foreign consumer's own law (its hours, its
 *   holidays) is not modelled here, so the configured zone is the operator's explicit choice.
 *   New Caledonia (+687), French Polynesia (+689) and Wallis-et-Futuna (+681) have their own consumer
 *   law and count as foreign.
 *
 * Returns null when the number cannot be placed: not E.164, or a +262 number in neither Réunion's nor
 * Mayotte's ranges (special-rate numbers shared by both): the caller must not assume either clock.
 */
export function zoneOf(e164: string, foreignDefault: string): ConsumerZone | null {
  if (!E164.test(e164)) return null;
  if (e164.startsWith('+33')) return PARIS;
  if (e164.startsWith('+262')) {
    const nsn = e164.slice(4);
    return PREFIXES_262.get(nsn.slice(0, 4)) ?? PREFIXES_262.get(nsn.slice(0, 3)) ?? null;
  }
  if (e164.startsWith('+590')) return ANTILLES_590;
  if (e164.startsWith('+594')) return GUYANE;
  if (e164.startsWith('+596')) return MARTINIQUE;
  if (e164.startsWith('+508')) return MIQUELON;
  return { timezone: foreignDefault, holidayRegion: null };
}

/**
 * Validates a configured IANA time zone (for `foreignDefault`) once at start-up; returns it.
 * Throws CALLGATE_ERR_CONFIG when the runtime does not know it.
 */
export function validateTimeZone(timezone: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch (err) {
    throw new CallgateError(ErrorCode.CONFIG, `expected an IANA time zone such as "Europe/Paris", got ${JSON.stringify(timezone)}`, { cause: err });
  }
  return timezone;
}
