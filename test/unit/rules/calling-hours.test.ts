import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FR_WINDOWS, type HoursResult, evaluateHours, nextAllowedAt } from '../../../src/rules/calling-hours.js';
import { addDays, formatLocalIso, isoWeekday, localDateOf, wallTimeToInstant } from '../../../src/rules/zoned-time.js';
import type { ConsumerZone } from '../../../src/rules/consumer-zone.js';
import { ErrorCode, isCallgateError } from '../../../src/core/errors.js';

const ZONES: { name: string; zone: ConsumerZone; winterOffset: string }[] = [
  { name: 'Paris', zone: { timezone: 'Europe/Paris', holidayRegion: 'FR' }, winterOffset: '+01:00' },
  { name: 'Réunion', zone: { timezone: 'Indian/Reunion', holidayRegion: 'RE' }, winterOffset: '+04:00' },
  { name: 'Mayotte', zone: { timezone: 'Indian/Mayotte', holidayRegion: 'YT' }, winterOffset: '+03:00' },
  { name: 'Guadeloupe', zone: { timezone: 'America/Guadeloupe', holidayRegion: 'GP+MF+BL' }, winterOffset: '-04:00' },
  { name: 'Martinique', zone: { timezone: 'America/Martinique', holidayRegion: 'MQ' }, winterOffset: '-04:00' },
  { name: 'Guyane', zone: { timezone: 'America/Cayenne', holidayRegion: 'GF' }, winterOffset: '-03:00' },
];

const PARIS = (ZONES[0] as { zone: ConsumerZone }).zone;

function at(localIso: string): Date {
  const d = new Date(localIso);
  if (Number.isNaN(d.getTime())) throw new Error(`bad test instant ${localIso}`);
  return d;
}

const ok: HoursResult = { ok: true };
const outside = (retryAt: string): HoursResult => ({ ok: false, reason: 'outside_hours', retryAt });
const holiday = (retryAt: string): HoursResult => ({ ok: false, reason: 'holiday', retryAt });

describe('edges on an ordinary Tuesday (2026-12-01) in every zone', () => {
  for (const { name, zone, winterOffset: o } of ZONES) {
    describe(name, () => {
      const cases: [string, HoursResult][] = [
        ['00:00:00', outside(`2026-12-01T10:00:00${o}`)],
        ['09:59:59', outside(`2026-12-01T10:00:00${o}`)],
        ['10:00:00', ok],
        ['12:59:59', ok],
        ['13:00:00', outside(`2026-12-01T14:00:00${o}`)],
        ['13:59:59', outside(`2026-12-01T14:00:00${o}`)],
        ['14:00:00', ok],
        ['19:59:59', ok],
        ['20:00:00', outside(`2026-12-02T10:00:00${o}`)],
        ['23:59:59', outside(`2026-12-02T10:00:00${o}`)],
      ];
      for (const [time, want] of cases) {
        it(`${time} → ${want.ok ? 'ok' : want.retryAt}`, () => {
          expect(evaluateHours(at(`2026-12-01T${time}${o}`), zone)).toEqual(want);
        });
      }

      it('counts milliseconds: 12:59:59.999 ok, 19:59:59.999 ok, 09:59:59.999 outside', () => {
        expect(evaluateHours(at(`2026-12-01T12:59:59.999${o}`), zone)).toEqual(ok);
        expect(evaluateHours(at(`2026-12-01T19:59:59.999${o}`), zone)).toEqual(ok);
        expect(evaluateHours(at(`2026-12-01T09:59:59.999${o}`), zone).ok).toBe(false);
      });

      it('Friday 20:00, Saturday and Sunday → outside_hours, retry Monday 10:00', () => {
        const monday = outside(`2026-12-07T10:00:00${o}`);
        expect(evaluateHours(at(`2026-12-04T20:00:00${o}`), zone)).toEqual(monday);
        expect(evaluateHours(at(`2026-12-05T00:00:00${o}`), zone)).toEqual(monday);
        expect(evaluateHours(at(`2026-12-05T11:00:00${o}`), zone)).toEqual(monday);
        expect(evaluateHours(at(`2026-12-06T15:00:00${o}`), zone)).toEqual(monday);
        expect(evaluateHours(at(`2026-12-06T23:59:59${o}`), zone)).toEqual(monday);
        expect(evaluateHours(at(`2026-12-07T10:00:00${o}`), zone)).toEqual(ok);
      });

      it('national holidays → holiday, retry the next working day (11 Nov 2026 is a Wednesday)', () => {
        expect(evaluateHours(at(`2026-11-11T11:00:00${o}`), zone)).toEqual(holiday(`2026-11-12T10:00:00${o}`));
        expect(evaluateHours(at(`2026-11-11T08:00:00${o}`), zone)).toEqual(holiday(`2026-11-12T10:00:00${o}`));
        expect(evaluateHours(at(`2026-11-10T20:00:00${o}`), zone)).toEqual(outside(`2026-11-12T10:00:00${o}`));
      });

      it('New Year: Thursday 31 Dec 20:00 → Monday 4 Jan 2027', () => {
        expect(evaluateHours(at(`2026-12-31T20:00:00${o}`), zone)).toEqual(outside(`2027-01-04T10:00:00${o}`));
        expect(evaluateHours(at(`2027-01-01T10:30:00${o}`), zone)).toEqual(holiday(`2027-01-04T10:00:00${o}`));
      });
    });
  }
});

describe('overseas holidays in their own zone', () => {
  const cases: [string, ConsumerZone, string, HoursResult][] = [
    ['Mayotte 27 Apr 2026 (Mon)', { timezone: 'Indian/Mayotte', holidayRegion: 'YT' }, '2026-04-27T11:00:00+03:00', holiday('2026-04-28T10:00:00+03:00')],
    // Friday 22 May, then the weekend, then Pentecost Monday 25 May.
    ['Martinique 22 May 2026 (Fri)', { timezone: 'America/Martinique', holidayRegion: 'MQ' }, '2026-05-22T11:00:00-04:00', holiday('2026-05-26T10:00:00-04:00')],
    ['Guadeloupe 27 May 2026 (Wed)', { timezone: 'America/Guadeloupe', holidayRegion: 'GP+MF+BL' }, '2026-05-27T15:00:00-04:00', holiday('2026-05-28T10:00:00-04:00')],
    ['Saint-Barthélemy day for +590 (9 Oct 2026, Fri)', { timezone: 'America/Guadeloupe', holidayRegion: 'GP+MF+BL' }, '2026-10-09T15:00:00-04:00', holiday('2026-10-12T10:00:00-04:00')],
    ['Guyane 10 Jun 2026 (Wed)', { timezone: 'America/Cayenne', holidayRegion: 'GF' }, '2026-06-10T10:00:00-03:00', holiday('2026-06-11T10:00:00-03:00')],
    ['Réunion 20 Dec 2027 (Mon)', { timezone: 'Indian/Reunion', holidayRegion: 'RE' }, '2027-12-20T19:59:59+04:00', holiday('2027-12-21T10:00:00+04:00')],
    ['Réunion the day before, 20:00', { timezone: 'Indian/Reunion', holidayRegion: 'RE' }, '2027-12-17T20:00:00+04:00', outside('2027-12-21T10:00:00+04:00')],
    ['Réunion on Good Friday: a working day there', { timezone: 'Indian/Reunion', holidayRegion: 'RE' }, '2026-04-03T11:00:00+04:00', ok],
    ['Martinique on Good Friday', { timezone: 'America/Martinique', holidayRegion: 'MQ' }, '2026-04-03T11:00:00-04:00', holiday('2026-04-07T10:00:00-04:00')],
    ['Guyane on 27 May: not its day', { timezone: 'America/Cayenne', holidayRegion: 'GF' }, '2026-05-27T11:00:00-03:00', ok],
    ['Paris on Good Friday (Alsace-Moselle)', PARIS, '2026-04-03T11:00:00+02:00', holiday('2026-04-07T10:00:00+02:00')],
    ['Paris on 26 Dec 2025 (Fri, Alsace-Moselle)', PARIS, '2025-12-26T11:00:00+01:00', holiday('2025-12-29T10:00:00+01:00')],
    ['Paris, Christmas Eve 20:00 (Thu)', PARIS, '2026-12-24T20:00:00+01:00', outside('2026-12-28T10:00:00+01:00')],
    ['Paris, Friday before Pentecost Monday', PARIS, '2026-05-22T20:00:00+02:00', outside('2026-05-26T10:00:00+02:00')],
    ['Paris, holiday on a Saturday (1 May 2027)', PARIS, '2027-05-01T11:00:00+02:00', holiday('2027-05-03T10:00:00+02:00')],
    ['foreign zone: no French holidays', { timezone: 'Europe/Paris', holidayRegion: null }, '2026-11-11T11:00:00+01:00', ok],
  ];
  for (const [name, zone, instant, want] of cases) {
    it(name, () => {
      expect(evaluateHours(at(instant), zone)).toEqual(want);
    });
  }
});

describe('Paris around DST', () => {
  it('spring 2026 (Sun 29 March): the weekend before retries Monday at 10:00+02:00', () => {
    expect(evaluateHours(at('2026-03-27T20:00:00+01:00'), PARIS)).toEqual(outside('2026-03-30T10:00:00+02:00'));
    expect(evaluateHours(at('2026-03-29T01:59:59+01:00'), PARIS)).toEqual(outside('2026-03-30T10:00:00+02:00'));
    expect(evaluateHours(at('2026-03-29T03:00:00+02:00'), PARIS)).toEqual(outside('2026-03-30T10:00:00+02:00'));
  });

  it('spring 2026: edges on Monday 30 March are local, the same UTC time differs from Friday', () => {
    expect(evaluateHours(at('2026-03-30T07:59:59Z'), PARIS)).toEqual(outside('2026-03-30T10:00:00+02:00'));
    expect(evaluateHours(at('2026-03-30T08:00:00Z'), PARIS)).toEqual(ok);
    expect(evaluateHours(at('2026-03-30T17:59:59Z'), PARIS)).toEqual(ok);
    expect(evaluateHours(at('2026-03-30T18:00:00Z'), PARIS)).toEqual(outside('2026-03-31T10:00:00+02:00'));
    // 08:30Z is 09:30 on Friday (UTC+1) and 10:30 on Monday (UTC+2)
    expect(evaluateHours(at('2026-03-27T08:30:00Z'), PARIS)).toEqual(outside('2026-03-27T10:00:00+01:00'));
    expect(evaluateHours(at('2026-03-30T08:30:00Z'), PARIS)).toEqual(ok);
    // 18:30Z is 19:30 on Friday and 20:30 on Monday
    expect(evaluateHours(at('2026-03-27T18:30:00Z'), PARIS)).toEqual(ok);
    expect(evaluateHours(at('2026-03-30T18:30:00Z'), PARIS).ok).toBe(false);
  });

  it('autumn 2026 (Sun 25 October): retries Monday at 10:00+01:00, both 02:30s are outside', () => {
    expect(evaluateHours(at('2026-10-23T19:59:59+02:00'), PARIS)).toEqual(ok);
    expect(evaluateHours(at('2026-10-23T20:00:00+02:00'), PARIS)).toEqual(outside('2026-10-26T10:00:00+01:00'));
    expect(evaluateHours(at('2026-10-24T12:00:00+02:00'), PARIS)).toEqual(outside('2026-10-26T10:00:00+01:00'));
    expect(evaluateHours(at('2026-10-25T00:30:00Z'), PARIS)).toEqual(outside('2026-10-26T10:00:00+01:00'));
    expect(evaluateHours(at('2026-10-25T01:30:00Z'), PARIS)).toEqual(outside('2026-10-26T10:00:00+01:00'));
    expect(evaluateHours(at('2026-10-26T08:59:59Z'), PARIS)).toEqual(outside('2026-10-26T10:00:00+01:00'));
    expect(evaluateHours(at('2026-10-26T09:00:00Z'), PARIS)).toEqual(ok);
    expect(evaluateHours(at('2026-10-26T18:59:59Z'), PARIS)).toEqual(ok);
    expect(evaluateHours(at('2026-10-26T19:00:00Z'), PARIS)).toEqual(outside('2026-10-27T10:00:00+01:00'));
  });

  it('spring 2027: DST on Easter Sunday, Good Friday and Easter Monday around it', () => {
    expect(evaluateHours(at('2027-03-25T20:00:00+01:00'), PARIS)).toEqual(outside('2027-03-30T10:00:00+02:00'));
    expect(evaluateHours(at('2027-03-26T11:00:00+01:00'), PARIS)).toEqual(holiday('2027-03-30T10:00:00+02:00'));
  });

  it('overseas zones have no DST: Réunion keeps +04:00 across Paris changes', () => {
    const re: ConsumerZone = { timezone: 'Indian/Reunion', holidayRegion: 'RE' };
    expect(evaluateHours(at('2026-03-27T20:00:00+04:00'), re)).toEqual(outside('2026-03-30T10:00:00+04:00'));
    expect(evaluateHours(at('2026-10-23T20:00:00+04:00'), re)).toEqual(outside('2026-10-26T10:00:00+04:00'));
  });
});

describe('helpers', () => {
  it('formatLocalIso writes the consumer offset', () => {
    expect(formatLocalIso(Date.parse('2026-12-01T06:00:00Z'), 'Indian/Reunion')).toBe('2026-12-01T10:00:00+04:00');
    expect(formatLocalIso(Date.parse('2026-12-01T14:00:00Z'), 'America/Guadeloupe')).toBe('2026-12-01T10:00:00-04:00');
    expect(formatLocalIso(Date.parse('2026-07-01T08:00:00Z'), 'Europe/Paris')).toBe('2026-07-01T10:00:00+02:00');
    expect(formatLocalIso(Date.parse('2026-07-01T08:00:00Z'), 'UTC')).toBe('2026-07-01T08:00:00+00:00');
  });

  it('wallTimeToInstant inverts local time on both sides of DST', () => {
    expect(new Date(wallTimeToInstant('2026-03-28', 600, 'Europe/Paris')).toISOString()).toBe('2026-03-28T09:00:00.000Z');
    expect(new Date(wallTimeToInstant('2026-03-30', 600, 'Europe/Paris')).toISOString()).toBe('2026-03-30T08:00:00.000Z');
    expect(new Date(wallTimeToInstant('2026-10-26', 0, 'Europe/Paris')).toISOString()).toBe('2026-10-25T23:00:00.000Z');
    expect(new Date(wallTimeToInstant('2026-10-25', 0, 'Europe/Paris')).toISOString()).toBe('2026-10-24T22:00:00.000Z');
  });

  it('calendar arithmetic', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(isoWeekday('2026-12-07')).toBe(1);
    expect(isoWeekday('2026-12-06')).toBe(7);
    expect(localDateOf(Date.parse('2026-12-01T21:00:00Z'), 'Indian/Reunion')).toBe('2026-12-02');
    expect(localDateOf(Date.parse('2026-12-01T02:00:00Z'), 'America/Cayenne')).toBe('2026-11-30');
  });

  it('custom windows are honoured', () => {
    const weekendToo = { weekdays: [1, 2, 3, 4, 5, 6, 7], ranges: [{ fromMin: 9 * 60, toMin: 21 * 60 }] };
    expect(evaluateHours(at('2026-12-05T20:59:59+01:00'), PARIS, weekendToo)).toEqual(ok);
    expect(evaluateHours(at('2026-12-05T21:00:00+01:00'), PARIS, weekendToo)).toEqual(outside('2026-12-06T09:00:00+01:00'));
  });

  it('windows that allow nothing throw CALLGATE_ERR_CONFIG', () => {
    let code: string | undefined;
    try {
      nextAllowedAt(Date.parse('2026-12-01T00:00:00Z'), PARIS, { weekdays: [], ranges: FR_WINDOWS.ranges });
    } catch (err) {
      code = isCallgateError(err) ? err.code : 'other';
    }
    expect(code).toBe(ErrorCode.CONFIG);
  });
});

describe('property: retryAt is the first allowed instant', () => {
  const start = Date.parse('2026-01-01T00:00:00Z');
  const end = Date.parse('2028-01-01T00:00:00Z');
  for (const { name, zone } of ZONES) {
    it(name, () => {
      fc.assert(
        fc.property(fc.integer({ min: start / 1000, max: end / 1000 }), (sec) => {
          const now = new Date(sec * 1000);
          const r = evaluateHours(now, zone);
          if (r.ok) return;
          const retry = Date.parse(r.retryAt);
          expect(retry).toBeGreaterThan(now.getTime());
          expect(evaluateHours(new Date(retry), zone)).toEqual(ok);
          // one second earlier is still blocked: nothing allowed is skipped over at the boundary
          expect(evaluateHours(new Date(retry - 1000), zone).ok).toBe(false);
          // the ISO string carries the zone's own offset, so it names the same local wall time
          expect(formatLocalIso(retry, zone.timezone)).toBe(r.retryAt);
        }),
        { numRuns: 300 },
      );
    });
  }
});

describe('property: local time agrees with Intl (the offset cache never lies)', () => {
  /** Independent reference: Intl's own wall time and 'longOffset' name ('GMT+01:00', or 'GMT' for zero). */
  function reference(ms: number, timezone: string): string {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'longOffset',
    }).formatToParts(ms);
    const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
    const name = get('timeZoneName');
    const offset = name === 'GMT' ? '+00:00' : name.slice(3);
    return `${get('year')}-${get('month')}-${get('day')}T${get('hour')}:${get('minute')}:${get('second')}${offset}`;
  }
  const zones = ['Europe/Paris', 'America/Miquelon', 'Indian/Reunion', 'America/Cayenne', 'Australia/Lord_Howe', 'America/St_Johns', 'UTC'];
  // Around each 2026 Paris and Miquelon DST change, then anywhere in 2026–2027.
  const transitions = ['2026-03-08T05:00:00Z', '2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2026-11-01T04:00:00Z', '2026-04-04T15:00:00Z'].map(Date.parse);
  it('near transitions, second by second in random order', () => {
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.constantFrom(...transitions), fc.integer({ min: -3600, max: 3600 }), (tz, t, dsec) => {
        const ms = t + dsec * 1000;
        expect(formatLocalIso(ms, tz)).toBe(reference(ms, tz));
      }),
      { numRuns: 3000 },
    );
  });
  it('anywhere in 2026–2027', () => {
    const start = Date.parse('2026-01-01T00:00:00Z') / 1000;
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.integer({ min: start, max: start + 730 * 86_400 }), (tz, sec) => {
        expect(formatLocalIso(sec * 1000, tz)).toBe(reference(sec * 1000, tz));
      }),
      { numRuns: 2000 },
    );
  });
});
