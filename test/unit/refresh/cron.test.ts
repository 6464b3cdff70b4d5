import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, isCallgateError } from '../../../src/core/errors.js';
import { DEFAULT_REFRESH_CRON, DEFAULT_REFRESH_TIMEZONE, createSchedule, validateSchedule } from '../../../src/refresh/cron.js';
import type { Schedule } from '../../../src/refresh/cron.js';

const HOUR = 3_600_000;

let open: Schedule[] = [];
/** Starts a schedule that records the fake clock at each tick; stopped after each test. */
function record(cron = DEFAULT_REFRESH_CRON, timezone = DEFAULT_REFRESH_TIMEZONE): { s: Schedule; ticks: string[] } {
  const ticks: string[] = [];
  const s = createSchedule(cron, timezone, () => ticks.push(new Date().toISOString()));
  open.push(s);
  return { s, ticks };
}

function errorOf(fn: () => unknown): { code: string; message: string } | undefined {
  try {
    fn();
  } catch (err) {
    return isCallgateError(err) ? { code: err.code, message: err.message } : { code: 'not a CallgateError', message: String(err) };
  }
  return undefined;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  for (const s of open) s.stop();
  open = [];
  vi.useRealTimers();
});

describe('defaults', () => {
  it('are 02:30 in Europe/Paris', () => {
    expect(DEFAULT_REFRESH_CRON).toBe('30 2 * * *');
    expect(DEFAULT_REFRESH_TIMEZONE).toBe('Europe/Paris');
  });
});

describe('next run', () => {
  it('is 02:30 Paris = 01:30Z in winter (CET)', () => {
    vi.setSystemTime(new Date('2026-01-15T12:00:00Z'));
    expect(record().s.nextRun()?.toISOString()).toBe('2026-01-16T01:30:00.000Z');
  });

  it('is 02:30 Paris = 00:30Z in summer (CEST)', () => {
    vi.setSystemTime(new Date('2026-07-15T12:00:00Z'));
    expect(record().s.nextRun()?.toISOString()).toBe('2026-07-16T00:30:00.000Z');
  });

  it('is today when started before 02:30 local', () => {
    vi.setSystemTime(new Date('2026-01-15T00:00:00Z'));
    expect(record().s.nextRun()?.toISOString()).toBe('2026-01-15T01:30:00.000Z');
  });

  it('follows the configured time zone', () => {
    vi.setSystemTime(new Date('2026-01-15T12:00:00Z'));
    expect(record('30 2 * * *', 'Indian/Reunion').s.nextRun()?.toISOString()).toBe('2026-01-15T22:30:00.000Z');
  });
});

describe('ticks', () => {
  it('fire when the fake clock reaches the run time, once per night', () => {
    vi.setSystemTime(new Date('2026-01-15T12:00:00Z'));
    const { s, ticks } = record();
    vi.advanceTimersByTime(13.5 * HOUR - 1); // 2026-01-16T01:29:59.999Z
    expect(ticks).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ticks).toEqual(['2026-01-16T01:30:00.000Z']);
    expect(s.nextRun()?.toISOString()).toBe('2026-01-17T01:30:00.000Z');
    vi.advanceTimersByTime(48 * HOUR);
    expect(ticks).toEqual(['2026-01-16T01:30:00.000Z', '2026-01-17T01:30:00.000Z', '2026-01-18T01:30:00.000Z']);
  });

  it('stop() ends them and nextRun() is then null', () => {
    vi.setSystemTime(new Date('2026-01-15T12:00:00Z'));
    const { s, ticks } = record();
    s.stop();
    s.stop();
    vi.advanceTimersByTime(48 * HOUR);
    expect(ticks).toEqual([]);
    expect(s.nextRun()).toBeNull();
  });

  it('hands what onTick throws to onError and keeps running', () => {
    vi.setSystemTime(new Date('2026-01-15T12:00:00Z'));
    const errors: unknown[] = [];
    const s = createSchedule(DEFAULT_REFRESH_CRON, DEFAULT_REFRESH_TIMEZONE, () => {
      throw new Error('boom');
    }, { onError: (err) => errors.push(err) });
    open.push(s);
    vi.advanceTimersByTime(48 * HOUR);
    expect(errors).toHaveLength(2);
    expect((errors[0] as Error).message).toBe('boom');
  });
});

describe('DST in Europe/Paris', () => {
  it('spring forward (2026-03-29, 02:30 does not exist): croner runs once, at 03:00 CEST = 01:00Z', () => {
    vi.setSystemTime(new Date('2026-03-28T12:00:00Z'));
    const { s, ticks } = record();
    expect(s.nextRun()?.toISOString()).toBe('2026-03-29T01:00:00.000Z');
    vi.advanceTimersByTime(48 * HOUR);
    expect(ticks).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });

  it('fall back (2026-10-25, 02:30 happens twice): croner runs once, at the first 02:30 CEST = 00:30Z', () => {
    vi.setSystemTime(new Date('2026-10-24T12:00:00Z'));
    const { s, ticks } = record();
    expect(s.nextRun()?.toISOString()).toBe('2026-10-25T00:30:00.000Z');
    vi.advanceTimersByTime(48 * HOUR);
    expect(ticks).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('a list of hours is a fixed-time job too (fixedTimeRule no-wildcard): runs once in the gap', () => {
    vi.setSystemTime(new Date('2026-03-28T12:00:00Z'));
    const { ticks } = record('30 2,14 * * *');
    vi.advanceTimersByTime(24 * HOUR);
    expect(ticks).toEqual(['2026-03-28T13:30:00.000Z', '2026-03-29T01:00:00.000Z']);
  });

  it('an interval job (a step in the minutes) skips the gap entirely, as Vixie cron does', () => {
    // Pinned so that a croner upgrade that changes it is noticed; documented in refresh/cron.ts.
    vi.setSystemTime(new Date('2026-03-28T12:00:00Z'));
    const { ticks } = record('*/30 2 * * *');
    vi.advanceTimersByTime(48 * HOUR);
    expect(ticks).toEqual(['2026-03-30T00:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });
});

describe('validation (CALLGATE_ERR_CONFIG at start-up)', () => {
  it('accepts the defaults and a nickname', () => {
    expect(() => validateSchedule(DEFAULT_REFRESH_CRON, DEFAULT_REFRESH_TIMEZONE)).not.toThrow();
    expect(() => validateSchedule('@daily', 'UTC')).not.toThrow();
  });

  it('rejects a malformed expression with an exact message', () => {
    expect(errorOf(() => validateSchedule('30 25 * * *', 'Europe/Paris'))).toEqual({
      code: ErrorCode.CONFIG,
      message:
        "refresh schedule must be a 5-field cron expression (minute hour day-of-month month day-of-week, e.g. '30 2 * * *'), " +
        "got '30 25 * * *': CronPattern: Invalid value for hour: 25",
    });
    expect(errorOf(() => validateSchedule('30 2 * *', 'Europe/Paris'))?.code).toBe(ErrorCode.CONFIG);
    expect(errorOf(() => validateSchedule('', 'Europe/Paris'))?.code).toBe(ErrorCode.CONFIG);
  });

  it('rejects a 6-field (seconds) expression', () => {
    expect(errorOf(() => validateSchedule('0 30 2 * * *', 'Europe/Paris'))?.code).toBe(ErrorCode.CONFIG);
  });

  it('rejects an expression that never runs', () => {
    expect(errorOf(() => validateSchedule('0 0 31 2 *', 'Europe/Paris'))).toEqual({
      code: ErrorCode.CONFIG,
      message: "refresh schedule '0 0 31 2 *' never runs (no matching date in Europe/Paris)",
    });
  });

  it('rejects an unknown time zone with an exact message', () => {
    expect(errorOf(() => validateSchedule(DEFAULT_REFRESH_CRON, 'Europe/Nowhere'))).toEqual({
      code: ErrorCode.CONFIG,
      message: "refresh time zone must be an IANA time zone name (e.g. 'Europe/Paris'), got 'Europe/Nowhere'",
    });
    expect(errorOf(() => validateSchedule(DEFAULT_REFRESH_CRON, ''))?.code).toBe(ErrorCode.CONFIG);
    expect(errorOf(() => validateSchedule(DEFAULT_REFRESH_CRON, '+01:00'))?.code).toBe(ErrorCode.CONFIG);
  });

  it('createSchedule validates too, before starting any timer', () => {
    const onTick = vi.fn();
    expect(errorOf(() => createSchedule('nope', DEFAULT_REFRESH_TIMEZONE, onTick))?.code).toBe(ErrorCode.CONFIG);
    expect(vi.getTimerCount()).toBe(0);
  });
});
