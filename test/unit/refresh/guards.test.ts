import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../../src/core/time.js';
import { ErrorCode } from '../../../src/core/errors.js';
import {
  DEFAULT_FRESHNESS_LIMITS,
  DEFAULT_GUARD_LIMITS,
  ageOf,
  freshness,
  judgeCandidate,
} from '../../../src/refresh/guards.js';
import { codeOf } from '../../helpers/errors.js';

const limits = DEFAULT_GUARD_LIMITS;


describe('judgeCandidate', () => {
  it('accepts a clean first load', () => {
    expect(judgeCandidate({ numbers: 1000, lines: 1000, badLines: 0 }, null, limits, false)).toEqual({ ok: true, overridden: [] });
  });

  it('uses the default limits when none are given', () => {
    expect(judgeCandidate({ numbers: 100, lines: 102, badLines: 2 }, null)).toMatchObject({ ok: false, code: 'too_many_bad_lines' });
  });

  describe('empty', () => {
    it('refuses a list with no valid number', () => {
      const r = judgeCandidate({ numbers: 0, lines: 5, badLines: 0 }, null, limits, false);
      expect(r).toMatchObject({ ok: false, code: 'empty' });
    });
    it('refuses it even with force', () => {
      expect(judgeCandidate({ numbers: 0, lines: 0, badLines: 0 }, { count: 10 }, limits, true)).toMatchObject({ ok: false, code: 'empty' });
    });
    it('refuses a list of bad lines only, even with force, as empty', () => {
      expect(judgeCandidate({ numbers: 0, lines: 50, badLines: 50 }, null, limits, true)).toMatchObject({ ok: false, code: 'empty' });
    });
    it('refuses a NaN count', () => {
      expect(judgeCandidate({ numbers: Number.NaN, lines: 1, badLines: 0 }, null, limits, true)).toMatchObject({ ok: false, code: 'empty' });
    });
    it('accepts a single number', () => {
      expect(judgeCandidate({ numbers: 1, lines: 1, badLines: 0 }, null, limits, false).ok).toBe(true);
    });
  });

  describe('bad lines', () => {
    it('accepts exactly the ratio (1 bad in 100 number lines)', () => {
      expect(judgeCandidate({ numbers: 99, lines: 100, badLines: 1 }, null, limits, false).ok).toBe(true);
    });
    it('refuses just above the ratio (2 bad in 101 number lines)', () => {
      const r = judgeCandidate({ numbers: 99, lines: 101, badLines: 2 }, null, limits, false);
      expect(r).toMatchObject({ ok: false, code: 'too_many_bad_lines' });
      if (!r.ok) expect(r.message).toContain('2 bad lines out of 101');
    });
    it('does not count blank and comment lines in the ratio', () => {
      // 10 bad among 90 numbers: 10 %, refused even though 10 000 blank lines pad the file.
      expect(judgeCandidate({ numbers: 90, lines: 10_100, badLines: 10 }, null, limits, false)).toMatchObject({ ok: false, code: 'too_many_bad_lines' });
    });
    it('applies the absolute cap even under the ratio', () => {
      const capped = { ...limits, maxBadLines: 5 };
      expect(judgeCandidate({ numbers: 1_000_000, lines: 1_000_006, badLines: 6 }, null, capped, false)).toMatchObject({ ok: false, code: 'too_many_bad_lines' });
      expect(judgeCandidate({ numbers: 1_000_000, lines: 1_000_005, badLines: 5 }, null, capped, false).ok).toBe(true);
    });
    it('maxBadLineRatio 0 refuses any bad line', () => {
      expect(judgeCandidate({ numbers: 1_000_000, lines: 1_000_001, badLines: 1 }, null, { ...limits, maxBadLineRatio: 0 }, false).ok).toBe(false);
    });
    it('force overrides and reports it', () => {
      expect(judgeCandidate({ numbers: 50, lines: 100, badLines: 50 }, null, limits, true)).toEqual({ ok: true, overridden: ['too_many_bad_lines'] });
    });
  });

  describe('shrink', () => {
    const current = { count: 1000 };
    it('accepts exactly maxShrinkRatio (1000 → 800)', () => {
      expect(judgeCandidate({ numbers: 800, lines: 800, badLines: 0 }, current, limits, false).ok).toBe(true);
    });
    it('refuses one number more (1000 → 799)', () => {
      const r = judgeCandidate({ numbers: 799, lines: 799, badLines: 0 }, current, limits, false);
      expect(r).toMatchObject({ ok: false, code: 'shrunk' });
      if (!r.ok) expect(r.message).toBe('list shrank from 1000 to 799 numbers (-20.10%); the limit is -20.00%');
    });
    it('accepts growth', () => {
      expect(judgeCandidate({ numbers: 5000, lines: 5000, badLines: 0 }, current, limits, false).ok).toBe(true);
    });
    it('does not judge a shrink against an empty or absent current generation', () => {
      expect(judgeCandidate({ numbers: 1, lines: 1, badLines: 0 }, { count: 0 }, limits, false).ok).toBe(true);
      expect(judgeCandidate({ numbers: 1, lines: 1, badLines: 0 }, null, limits, false).ok).toBe(true);
    });
    it('force overrides and reports it', () => {
      expect(judgeCandidate({ numbers: 10, lines: 10, badLines: 0 }, current, limits, true)).toEqual({ ok: true, overridden: ['shrunk'] });
    });
    it('maxShrinkRatio 1 accepts any non-empty list', () => {
      expect(judgeCandidate({ numbers: 1, lines: 1, badLines: 0 }, current, { ...limits, maxShrinkRatio: 1 }, false).ok).toBe(true);
    });
  });

  it('reports the bad-line refusal first when both apply, and both when forced', () => {
    const c = { numbers: 10, lines: 20, badLines: 10 };
    expect(judgeCandidate(c, { count: 1000 }, limits, false)).toMatchObject({ ok: false, code: 'too_many_bad_lines' });
    expect(judgeCandidate(c, { count: 1000 }, limits, true)).toEqual({ ok: true, overridden: ['too_many_bad_lines', 'shrunk'] });
  });

  it('rejects invalid limits with CALLGATE_ERR_CONFIG (a NaN limit would accept everything)', () => {
    const c = { numbers: 1, lines: 1, badLines: 0 };
    expect(codeOf(() => judgeCandidate(c, null, { ...limits, maxBadLineRatio: Number.NaN }, false))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => judgeCandidate(c, null, { ...limits, maxShrinkRatio: 1.5 }, false))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => judgeCandidate(c, null, { ...limits, maxShrinkRatio: -0.1 }, false))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => judgeCandidate(c, null, { ...limits, maxBadLines: 1.5 }, false))).toBe(ErrorCode.CONFIG);
  });
});

describe('ageOf', () => {
  it('is now minus the source date in ms', () => {
    expect(ageOf(new Date('2026-03-01T00:00:00Z'), new Date('2026-03-02T00:00:01Z'))).toBe(DAY_MS + 1000);
  });
});

describe('freshness', () => {
  const source = new Date('2026-03-01T10:00:00.000Z');
  const fetchedAt = new Date('2026-03-02T02:30:00.000Z');
  const dates = { sourceDate: source, fetchedAt };
  const at = (ms: number): Date => new Date(source.getTime() + ms);

  it('counts from the source date, not the fetch time', () => {
    const f = freshness(dates, at(DAY_MS));
    expect(f).toMatchObject({ state: 'fresh', basis: 'source', ageMs: DAY_MS });
    expect(f.datedAt).toEqual(source);
    expect(f.staleAt.toISOString()).toBe('2026-03-31T10:00:00.000Z');
    expect(f.ageingAt.toISOString()).toBe('2026-03-26T10:00:00.000Z');
  });

  it.each([
    ['one ms before ageing', 25 * DAY_MS - 1, 'fresh'],
    ['exactly at ageing (25 days)', 25 * DAY_MS, 'ageing'],
    ['one ms before 30 days', 30 * DAY_MS - 1, 'ageing'],
    ['exactly 30 days', 30 * DAY_MS, 'stale'],
    ['one ms after 30 days', 30 * DAY_MS + 1, 'stale'],
    ['a year later', 365 * DAY_MS, 'stale'],
  ] as const)('%s → %s', (_label, ms, state) => {
    expect(freshness(dates, at(ms)).state).toBe(state);
  });

  it('the US 31-day rule: maxAgeDays 31', () => {
    const us = { maxAgeDays: 31, warnDays: 5 };
    expect(freshness(dates, at(31 * DAY_MS - 1), us).state).toBe('ageing');
    expect(freshness(dates, at(31 * DAY_MS), us).state).toBe('stale');
  });

  it('warnDays 0 goes straight from fresh to stale', () => {
    const l = { maxAgeDays: 30, warnDays: 0 };
    expect(freshness(dates, at(30 * DAY_MS - 1), l).state).toBe('fresh');
    expect(freshness(dates, at(30 * DAY_MS), l).state).toBe('stale');
  });

  it('without a source date, counts from the fetch time and says so', () => {
    const f = freshness({ sourceDate: null, fetchedAt }, new Date(fetchedAt.getTime() + 30 * DAY_MS - 1));
    expect(f).toMatchObject({ state: 'ageing', basis: 'fetched_no_source_date' });
    expect(f.datedAt).toEqual(fetchedAt);
    expect(freshness({ sourceDate: null, fetchedAt }, new Date(fetchedAt.getTime() + 30 * DAY_MS)).state).toBe('stale');
  });

  it('an invalid source date counts as none', () => {
    expect(freshness({ sourceDate: new Date(Number.NaN), fetchedAt }, fetchedAt).basis).toBe('fetched_no_source_date');
  });

  it('caps a source date in the future at the fetch time', () => {
    const f = freshness({ sourceDate: new Date('2030-01-01T00:00:00Z'), fetchedAt }, new Date(fetchedAt.getTime() + 30 * DAY_MS));
    expect(f).toMatchObject({ state: 'stale', basis: 'fetched_source_in_future' });
  });

  it('a source date equal to the fetch time is the source date', () => {
    expect(freshness({ sourceDate: fetchedAt, fetchedAt }, fetchedAt)).toMatchObject({ state: 'fresh', basis: 'source', ageMs: 0 });
  });

  it('has 30/5 defaults', () => {
    expect(DEFAULT_FRESHNESS_LIMITS).toEqual({ maxAgeDays: 30, warnDays: 5 });
  });

  it('rejects invalid limits with CALLGATE_ERR_CONFIG', () => {
    expect(codeOf(() => freshness(dates, fetchedAt, { maxAgeDays: 0, warnDays: 0 }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => freshness(dates, fetchedAt, { maxAgeDays: Number.NaN, warnDays: 5 }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => freshness(dates, fetchedAt, { maxAgeDays: 30, warnDays: 30 }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => freshness(dates, fetchedAt, { maxAgeDays: 30, warnDays: -1 }))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => freshness({ sourceDate: null, fetchedAt: new Date(Number.NaN) }, fetchedAt))).toBe(ErrorCode.CONFIG);
  });
});
