/**
 * Calling hours (décret 2022-1313, Code de la consommation D223-8 and following, in force since
 * 1 March 2023): Monday–Friday, 10:00–13:00 and 14:00–20:00 in the consumer's time zone, never on a
 * public holiday. Pure: the instant is always an argument, local time comes from Intl (the runtime's
 * tz database), so DST is the zone's own (Europe/Paris switches on the last Sundays of March and
 * October; the overseas zones have none).
 */
import type { ConsumerZone } from './consumer-zone.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { isPublicHoliday } from './holidays.js';
import { addDays, formatLocalIso, isoWeekday, localTime, wallTimeToInstant } from './zoned-time.js';
import { MINUTE_MS } from '../core/time.js';

export interface CallingRange {
  /** Start, minutes after local midnight, inclusive. */
  readonly fromMin: number;
  /** End, minutes after local midnight, exclusive (13:00:00 is already outside 10:00–13:00). */
  readonly toMin: number;
}

export interface CallingWindows {
  /** ISO weekdays on which calls may be made: 1 = Monday … 7 = Sunday. */
  readonly weekdays: readonly number[];
  /** Allowed ranges of each such day, sorted, not overlapping. */
  readonly ranges: readonly CallingRange[];
}

/** Décret 2022-1313 art. 1: weekdays, 10:00–13:00 and 14:00–20:00. */
export const FR_WINDOWS: CallingWindows = Object.freeze({
  weekdays: Object.freeze([1, 2, 3, 4, 5]),
  ranges: Object.freeze([Object.freeze({ fromMin: 10 * 60, toMin: 13 * 60 }), Object.freeze({ fromMin: 14 * 60, toMin: 20 * 60 })]),
});

export type HoursResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'outside_hours' | 'holiday';
      /** Next allowed instant, ISO 8601 with the consumer's UTC offset ('2026-12-01T10:00:00+04:00'). */
      readonly retryAt: string;
    };

const OK: HoursResult = Object.freeze({ ok: true });
/** No sane window set leaves a year without an allowed minute; past that the windows are broken. */
const MAX_SEARCH_DAYS = 366;

function isHoliday(zone: ConsumerZone, date: string): boolean {
  return zone.holidayRegion !== null && isPublicHoliday(zone.holidayRegion, date);
}

function isCallingDay(zone: ConsumerZone, date: string, windows: CallingWindows): boolean {
  return windows.weekdays.includes(isoWeekday(date)) && !isHoliday(zone, date);
}

/**
 * First allowed instant at or after `fromMs` (ms since epoch). Throws CALLGATE_ERR_CONFIG when the
 * windows allow nothing within a year (empty weekdays or ranges).
 */
export function nextAllowedAt(fromMs: number, zone: ConsumerZone, windows: CallingWindows = FR_WINDOWS): number {
  const now = localTime(fromMs, zone.timezone);
  for (let k = 0; k <= MAX_SEARCH_DAYS; k++) {
    const date = k === 0 ? now.date : addDays(now.date, k);
    if (!isCallingDay(zone, date, windows)) continue;
    for (const r of windows.ranges) {
      if (k === 0) {
        if (now.msOfDay >= r.toMin * MINUTE_MS) continue;
        if (now.msOfDay >= r.fromMin * MINUTE_MS) return fromMs;
      }
      return wallTimeToInstant(date, r.fromMin, zone.timezone);
    }
  }
  throw new CallgateError(ErrorCode.CONFIG, `calling windows allow no time within ${MAX_SEARCH_DAYS} days: ${JSON.stringify(windows)}`);
}

/**
 * May the consumer in `zone` be called at `now`? When not, why and when next. A public holiday is
 * reported as `holiday` even on a weekend or outside the ranges (the more specific fact for the audit
 * trail); any other refusal is `outside_hours`.
 */
/**
 * Windows open and close on whole minutes (in every zone: offsets are whole quarter hours), so the
 * answer — and retryAt — is the same for every instant of a UTC minute: blocked checks, which cost
 * ~28 µs to find the next window, are answered from this small cache (one entry per zone and minute).
 */
const hoursCache = new Map<string, HoursResult>();
const HOURS_CACHE_MAX = 256;

export function evaluateHours(now: Date, zone: ConsumerZone, windows: CallingWindows = FR_WINDOWS): HoursResult {
  const nowMs = now.getTime();
  const cacheable = windows === FR_WINDOWS;
  const key = cacheable ? `${zone.timezone}|${zone.holidayRegion ?? ''}|${Math.floor(nowMs / MINUTE_MS)}` : '';
  if (cacheable) {
    const hit = hoursCache.get(key);
    if (hit !== undefined) return hit;
  }
  const result = computeHours(nowMs, zone, windows);
  if (cacheable) {
    if (hoursCache.size >= HOURS_CACHE_MAX) hoursCache.clear();
    hoursCache.set(key, result);
  }
  return result;
}

function computeHours(nowMs: number, zone: ConsumerZone, windows: CallingWindows): HoursResult {
  const lt = localTime(nowMs, zone.timezone);
  const holiday = isHoliday(zone, lt.date);
  if (!holiday && windows.weekdays.includes(isoWeekday(lt.date))) {
    for (const r of windows.ranges) {
      if (lt.msOfDay >= r.fromMin * MINUTE_MS && lt.msOfDay < r.toMin * MINUTE_MS) return OK;
    }
  }
  const retryAt = formatLocalIso(nextAllowedAt(nowMs, zone, windows), zone.timezone);
  return Object.freeze({ ok: false, reason: holiday ? 'holiday' : 'outside_hours', retryAt });
}
