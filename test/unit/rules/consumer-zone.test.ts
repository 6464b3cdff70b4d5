import { describe, expect, it } from 'vitest';
import { validateTimeZone, zoneOf } from '../../../src/rules/consumer-zone.js';
import { ErrorCode, isCallgateError } from '../../../src/core/errors.js';

const FOREIGN = 'America/New_York';

describe('zoneOf', () => {
  const cases: [string, string, string | null][] = [
    // metropolitan France, every kind of number
    ['+33123456789', 'Europe/Paris', 'FR'],
    ['+33612345678', 'Europe/Paris', 'FR'],
    ['+33712345678', 'Europe/Paris', 'FR'],
    ['+33912345678', 'Europe/Paris', 'FR'],
    // Réunion: fixed 0262 / 0263, mobile 0692 / 0693, new ranges
    ['+262262123456', 'Indian/Reunion', 'RE'],
    ['+262263123456', 'Indian/Reunion', 'RE'],
    ['+262692123456', 'Indian/Reunion', 'RE'],
    ['+262693123456', 'Indian/Reunion', 'RE'],
    ['+262268812345', 'Indian/Reunion', 'RE'],
    ['+262709212345', 'Indian/Reunion', 'RE'],
    ['+262939912345', 'Indian/Reunion', 'RE'],
    // Mayotte: fixed 0269, mobile 0639, new ranges
    ['+262269612345', 'Indian/Mayotte', 'YT'],
    ['+262639012345', 'Indian/Mayotte', 'YT'],
    ['+262268912345', 'Indian/Mayotte', 'YT'],
    ['+262709351234', 'Indian/Mayotte', 'YT'],
    ['+262976912345', 'Indian/Mayotte', 'YT'],
    // +590: Guadeloupe, Saint-Martin (0590 87), Saint-Barthélemy (0590 27): one clock, union of holidays
    ['+590590123456', 'America/Guadeloupe', 'GP+MF+BL'],
    ['+590590871234', 'America/Guadeloupe', 'GP+MF+BL'],
    ['+590590271234', 'America/Guadeloupe', 'GP+MF+BL'],
    ['+590690123456', 'America/Guadeloupe', 'GP+MF+BL'],
    ['+590691301234', 'America/Guadeloupe', 'GP+MF+BL'],
    ['+596596123456', 'America/Martinique', 'MQ'],
    ['+596696123456', 'America/Martinique', 'MQ'],
    ['+596697123456', 'America/Martinique', 'MQ'],
    ['+594594123456', 'America/Cayenne', 'GF'],
    ['+594694123456', 'America/Cayenne', 'GF'],
    ['+508411234', 'America/Miquelon', 'PM'],
    // foreign: the configured zone, no French holidays (Comoros +269 is not Mayotte)
    ['+12025550123', FOREIGN, null],
    ['+447911123456', FOREIGN, null],
    ['+2693212345', FOREIGN, null],
    ['+687751234', FOREIGN, null],
    ['+32470123456', FOREIGN, null],
  ];
  for (const [e164, timezone, holidayRegion] of cases) {
    it(`${e164} → ${timezone} / ${String(holidayRegion)}`, () => {
      expect(zoneOf(e164, FOREIGN)).toEqual({ timezone, holidayRegion });
    });
  }

  it('cannot place a +262 number outside Réunion and Mayotte ranges (shared special numbers)', () => {
    expect(zoneOf('+262800123456', FOREIGN)).toBeNull();
    expect(zoneOf('+262891123456', FOREIGN)).toBeNull();
    expect(zoneOf('+262112345678', FOREIGN)).toBeNull();
  });

  it('cannot place what is not E.164', () => {
    for (const bad of ['', '0612345678', '33612345678', '+', '+0612345678', '+33 6 12 34 56 78', '+1234567890123456']) {
      expect(zoneOf(bad, FOREIGN), bad).toBeNull();
    }
  });

  it('every zone it returns is known to the runtime', () => {
    for (const [e164] of cases) {
      const z = zoneOf(e164, FOREIGN);
      expect(z).not.toBeNull();
      expect(validateTimeZone((z as { timezone: string }).timezone)).toBe(z?.timezone);
    }
  });
});

describe('validateTimeZone', () => {
  it('returns a known zone', () => {
    expect(validateTimeZone('Europe/Paris')).toBe('Europe/Paris');
  });

  it('throws CALLGATE_ERR_CONFIG on an unknown zone', () => {
    let code: string | undefined;
    try {
      validateTimeZone('Mars/Olympus');
    } catch (err) {
      code = isCallgateError(err) ? err.code : 'other';
    }
    expect(code).toBe(ErrorCode.CONFIG);
  });
});
