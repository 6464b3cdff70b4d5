/**
 * Wall time in a time zone: the instant ↔ local date and time conversions the calling rules and the
 * consent terms need. Pure: local time comes from Intl (the runtime's tz database), so DST is the
 * zone's own. No holiday or rule data here, so that the list parser (in a worker) can read dates
 * without loading the calling rules.
 */
import { DAY_MS, MINUTE_MS } from '../core/time.js';

/** A wall-clock reading in some zone. */
export interface LocalTime {
  /** 'YYYY-MM-DD' */
  readonly date: string;
  /** Milliseconds since local midnight. */
  readonly msOfDay: number;
  /** Local wall time read as if it were UTC, minus the instant: the zone's offset in ms. */
  readonly offsetMs: number;
}

// Formatters are costly to build and depend only on the zone: build each once.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** The zone's UTC offset at `instantMs`, straight from Intl (a few µs: the slow path). */
function intlOffsetMs(instantMs: number, timezone: string): number {
  const t = Math.floor(instantMs / 1000) * 1000;
  let y = 0;
  let mo = 0;
  let d = 0;
  let h = 0;
  let mi = 0;
  let s = 0;
  for (const p of formatterOf(timezone).formatToParts(t)) {
    switch (p.type) {
      case 'year': y = Number(p.value); break;
      case 'month': mo = Number(p.value); break;
      case 'day': d = Number(p.value); break;
      case 'hour': h = Number(p.value); break;
      case 'minute': mi = Number(p.value); break;
      case 'second': s = Number(p.value); break;
      default: break;
    }
  }
  return Date.UTC(y, mo - 1, d, h, mi, s) - t;
}

/**
 * Offsets change a few times a year, so each zone remembers the span it last answered for: a check
 * reads the offset from it instead of asking Intl (about 10 µs → well under 1 µs). A span is a
 * 15-minute slot whose first and last second have the same offset; no zone changes offset twice in
 * 15 minutes, so the whole slot has it. A slot holding a transition is never cached.
 */
const SPAN_MS = 15 * MINUTE_MS;
const spans = new Map<string, { readonly from: number; readonly offsetMs: number }>();

/**
 * Behind the span, each zone remembers the offset of the UTC days it was asked about: a consent list
 * dates hundreds of thousands of lines over a few years, and asking Intl for each date cost 15 of the
 * 21 s of parsing 200k lines (issue 17). A day whose first and last second have the same offset has
 * it throughout (no zone changes offset twice within a day); a day holding a change is remembered as
 * such (NaN) and keeps asking Intl. Bounded: past DAYS_KEPT days a zone's memory starts afresh.
 */
const DAYS_KEPT = 4096;
const days = new Map<string, Map<number, number>>();

function dayOffsetMs(instantMs: number, timezone: string): number {
  let byDay = days.get(timezone);
  if (byDay === undefined) {
    byDay = new Map();
    days.set(timezone, byDay);
  }
  const day = Math.floor(instantMs / DAY_MS);
  let offset = byDay.get(day);
  if (offset === undefined) {
    if (byDay.size >= DAYS_KEPT) byDay.clear();
    const first = intlOffsetMs(day * DAY_MS, timezone);
    offset = first === intlOffsetMs(day * DAY_MS + DAY_MS - 1000, timezone) ? first : Number.NaN;
    byDay.set(day, offset);
  }
  return offset;
}

function offsetMsAt(instantMs: number, timezone: string): number {
  const span = spans.get(timezone);
  if (span !== undefined && instantMs >= span.from && instantMs < span.from + SPAN_MS) return span.offsetMs;
  const from = Math.floor(instantMs / SPAN_MS) * SPAN_MS;
  const day = dayOffsetMs(instantMs, timezone);
  // A span never crosses a UTC day (a day is a whole number of spans), so a uniform day's offset is its span's.
  const first = Number.isNaN(day) ? intlOffsetMs(from, timezone) : day;
  if (Number.isNaN(day) && first !== intlOffsetMs(from + SPAN_MS - 1000, timezone)) return intlOffsetMs(instantMs, timezone);
  spans.set(timezone, { from, offsetMs: first });
  return first;
}

export function localTime(instantMs: number, timezone: string): LocalTime {
  const offsetMs = offsetMsAt(instantMs, timezone);
  const wall = new Date(instantMs + offsetMs);
  const msOfDay = (((wall.getUTCHours() * 60 + wall.getUTCMinutes()) * 60 + wall.getUTCSeconds()) * 1000) + wall.getUTCMilliseconds();
  return { date: isoDate(wall.getUTCFullYear(), wall.getUTCMonth() + 1, wall.getUTCDate()), msOfDay, offsetMs };
}

export function isoDate(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

function dateAsUtcMs(date: string): number {
  const y = Number(date.slice(0, 4));
  const m = Number(date.slice(5, 7)) - 1;
  const d = Number(date.slice(8, 10));
  if (y >= 100) return Date.UTC(y, m, d);
  // Date.UTC reads years 0–99 as 1900–1999: '0050-06-01' would be 1950 here and 0050 in an ISO instant.
  const t = new Date(0);
  t.setUTCFullYear(y, m, d);
  return t.getTime();
}

/** 'YYYY-MM-DD' plus `days` calendar days (plain calendar arithmetic, no zone involved). */
export function addDays(date: string, days: number): string {
  const t = new Date(dateAsUtcMs(date) + days * DAY_MS);
  return isoDate(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

/** ISO weekday of a calendar date: 1 = Monday … 7 = Sunday. */
export function isoWeekday(date: string): number {
  return new Date(dateAsUtcMs(date)).getUTCDay() || 7;
}

/** The consumer's calendar date ('YYYY-MM-DD') at `instantMs`. */
export function localDateOf(instantMs: number, timezone: string): string {
  return localTime(instantMs, timezone).date;
}

/**
 * The instant at which the wall clock of `timezone` reads `minuteOfDay` on `date`. Two refinements of
 * the offset settle it on either side of a DST change; a wall time inside a spring-forward gap maps to
 * the instant just after the gap (not reachable with French windows: Paris changes at 02:00/03:00).
 */
export function wallTimeToInstant(date: string, minuteOfDay: number, timezone: string): number {
  const wallAsUtc = dateAsUtcMs(date) + minuteOfDay * MINUTE_MS;
  let t = wallAsUtc - offsetMsAt(wallAsUtc, timezone);
  t = wallAsUtc - offsetMsAt(t, timezone);
  return t;
}

/** ISO 8601 of an instant in the consumer's wall time with its UTC offset, to the second. */
export function formatLocalIso(instantMs: number, timezone: string): string {
  const lt = localTime(instantMs, timezone);
  const secs = Math.floor(lt.msOfDay / 1000);
  const hh = String(Math.floor(secs / 3600)).padStart(2, '0');
  const mm = String(Math.floor((secs % 3600) / 60)).padStart(2, '0');
  const ss = String(secs % 60).padStart(2, '0');
  const offMin = Math.round(lt.offsetMs / MINUTE_MS);
  const sign = offMin < 0 ? '-' : '+';
  const abs = Math.abs(offMin);
  return `${lt.date}T${hh}:${mm}:${ss}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
