/**
 * Pure decisions for the nightly refresh: may a freshly read list replace the current generation, and
 * how old is the list being served. No I/O, no clock: the caller passes `now`.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import { DAY_MS } from '../core/time.js';

// ---------------------------------------------------------------------------------------------------
// Candidate checks
// ---------------------------------------------------------------------------------------------------

export type RefusalCode = 'empty' | 'too_many_bad_lines' | 'shrunk';

export interface CandidateCounts {
  /**
   * Valid numbers in the candidate. Compare like with like: when `current.count` counts distinct
   * numbers, pass the candidate's distinct count too (duplicates would otherwise hide a shrink).
   */
  readonly numbers: number;
  /** Every line read (numbers, blanks, comments, header, bad lines); used in messages only. */
  readonly lines: number;
  readonly badLines: number;
}

export interface GuardLimits {
  /**
   * Refuse when badLines / (numbers + badLines) exceeds this. Blank and comment lines are not in the
   * denominator: a file padded with blank lines must not dilute its garbage. @default 0.01
   */
  readonly maxBadLineRatio: number;
  /** Refuse when badLines exceeds this absolute count, whatever the ratio. @default undefined (no cap) */
  readonly maxBadLines?: number;
  /** Refuse when the candidate has fewer than (1 - this) × current.count numbers. @default 0.2 */
  readonly maxShrinkRatio: number;
}

export const DEFAULT_GUARD_LIMITS: GuardLimits = Object.freeze({ maxBadLineRatio: 0.01, maxShrinkRatio: 0.2 });

export type CandidateJudgement =
  | {
      readonly ok: true;
      /** Refusals that `force` overrode (empty when none): the caller logs and audits them. */
      readonly overridden: readonly RefusalCode[];
    }
  | { readonly ok: false; readonly code: RefusalCode; readonly message: string };

/**
 * Decides whether a candidate list may replace the current generation.
 *
 * Checks, in order: empty (zero valid numbers), too many bad lines, shrunk by more than maxShrinkRatio
 * against the current generation (skipped when there is none, or it is empty).
 *
 * `force` overrides the bad-line and shrink refusals, never an empty list: an empty deny-list allows
 * every call, and no operator means that (a list truncated to nothing is a broken export, not a
 * decision). To really serve an empty list, remove it from the configuration.
 *
 * Thresholds are exclusive: a shrink of exactly maxShrinkRatio, or a ratio of exactly
 * maxBadLineRatio, is accepted.
 */
/** The guards of a list's refresh policy, applied to a built candidate against the current generation. */
export function judgeForList(
  refresh: { readonly maxBadLineRatio: number; readonly maxShrinkRatio: number },
  candidate: CandidateCounts,
  current: { readonly count: number } | null,
  force: boolean,
): CandidateJudgement {
  return judgeCandidate(candidate, current, { maxBadLineRatio: refresh.maxBadLineRatio, maxShrinkRatio: refresh.maxShrinkRatio }, force);
}

export function judgeCandidate(
  candidate: CandidateCounts,
  current: { readonly count: number } | null,
  limits: GuardLimits = DEFAULT_GUARD_LIMITS,
  force = false,
): CandidateJudgement {
  assertLimits(limits);
  const { numbers, lines, badLines } = candidate;
  // Comparisons are written so that a NaN count refuses rather than passes.
  if (!(numbers > 0)) {
    return {
      ok: false,
      code: 'empty',
      message:
        `list has no valid number (${lines} lines, ${badLines} bad); refused even with force, ` +
        'because an empty deny-list would allow every call',
    };
  }

  const refusals: Array<{ code: RefusalCode; message: string }> = [];

  const ratio = badLines / (numbers + badLines);
  const overCap = limits.maxBadLines !== undefined && badLines > limits.maxBadLines;
  if (!(ratio <= limits.maxBadLineRatio) || overCap) {
    const cap = limits.maxBadLines === undefined ? '' : ` or more than ${limits.maxBadLines} bad lines`;
    refusals.push({
      code: 'too_many_bad_lines',
      message:
        `list has ${badLines} bad lines out of ${numbers + badLines} number lines (${formatPercent(ratio)}); ` +
        `the limit is ${formatPercent(limits.maxBadLineRatio)}${cap}`,
    });
  }

  if (current !== null && current.count > 0) {
    const shrink = (current.count - numbers) / current.count;
    if (!(shrink <= limits.maxShrinkRatio)) {
      refusals.push({
        code: 'shrunk',
        message:
          `list shrank from ${current.count} to ${numbers} numbers (-${formatPercent(shrink)}); ` +
          `the limit is -${formatPercent(limits.maxShrinkRatio)}`,
      });
    }
  }

  const first = refusals[0];
  if (first === undefined) return { ok: true, overridden: [] };
  if (force) return { ok: true, overridden: refusals.map((r) => r.code) };
  return { ok: false, code: first.code, message: first.message };
}

function assertLimits(limits: GuardLimits): void {
  // A NaN limit would make every comparison false, i.e. accept everything: refuse it loudly instead.
  if (!isRatio(limits.maxBadLineRatio)) {
    throw new CallgateError(ErrorCode.CONFIG, `maxBadLineRatio must be a number in [0, 1], got ${String(limits.maxBadLineRatio)}`);
  }
  if (!isRatio(limits.maxShrinkRatio)) {
    throw new CallgateError(ErrorCode.CONFIG, `maxShrinkRatio must be a number in [0, 1], got ${String(limits.maxShrinkRatio)}`);
  }
  if (limits.maxBadLines !== undefined && !(Number.isInteger(limits.maxBadLines) && limits.maxBadLines >= 0)) {
    throw new CallgateError(ErrorCode.CONFIG, `maxBadLines must be an integer >= 0, got ${String(limits.maxBadLines)}`);
  }
}

function isRatio(x: number): boolean {
  return typeof x === 'number' && x >= 0 && x <= 1;
}

function formatPercent(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

// ---------------------------------------------------------------------------------------------------
// Staleness
// ---------------------------------------------------------------------------------------------------


export interface FreshnessLimits {
  /**
   * A list is stale from this age on (inclusive). French re-scrub: a Bloctel result is valid 30 days
   * (Code de la consommation R223-6); the US safe harbor allows 31 (16 CFR 310.4(b)(3)).
   * Days are 24-hour spans of elapsed time, not calendar days (they differ by at most an hour across
   * a DST change). @default 30
   */
  readonly maxAgeDays: number;
  /** The list is 'ageing' this many days before it turns stale: time to fix the feed. @default 5 */
  readonly warnDays: number;
}

export const DEFAULT_FRESHNESS_LIMITS: FreshnessLimits = Object.freeze({ maxAgeDays: 30, warnDays: 5 });

export interface ListDates {
  /** The source's own date (file mtime, HTTP Last-Modified), or null when it gave none. */
  readonly sourceDate: Date | null;
  /** When callgate read the source. */
  readonly fetchedAt: Date;
}

export type FreshnessState = 'fresh' | 'ageing' | 'stale';

/**
 * Which date the age counts from. 'source': the source's own date. 'fetched_no_source_date': the source
 * gave none, so the read time stands in (optimistic: the data may be older; the caller should say so).
 * 'fetched_source_in_future': the source claimed a date after we read it (clock skew, `touch`), which
 * would make the list look younger than it can be, so the read time caps it.
 */
export type AgeBasis = 'source' | 'fetched_no_source_date' | 'fetched_source_in_future';

export interface Freshness {
  readonly state: FreshnessState;
  readonly basis: AgeBasis;
  /** The date the age counts from. */
  readonly datedAt: Date;
  /** now − datedAt, in ms (negative only if `now` is before the read). */
  readonly ageMs: number;
  /** From this instant on the list is 'ageing'. */
  readonly ageingAt: Date;
  /** From this instant on the list is 'stale' (inclusive). */
  readonly staleAt: Date;
}

/** now − sourceDate in ms: the list's age counted from the source's own date. */
export function ageOf(sourceDate: Date, now: Date): number {
  return now.getTime() - sourceDate.getTime();
}

/**
 * How fresh a list is, counted from the source's own date (a Bloctel result file's date, not the night
 * callgate re-read an unchanged copy of it): re-reading an old file does not make it younger.
 * Note for callers: on an 'unchanged' source keep the generation's original ListDates; never refresh
 * fetchedAt, or a list without a source date would never age.
 */
export function freshness(dates: ListDates, now: Date, limits: FreshnessLimits = DEFAULT_FRESHNESS_LIMITS): Freshness {
  assertFreshnessLimits(limits);
  const { datedAt, basis } = dateOf(dates);
  const staleAtMs = datedAt.getTime() + limits.maxAgeDays * DAY_MS;
  const ageingAtMs = staleAtMs - limits.warnDays * DAY_MS;
  const nowMs = now.getTime();
  const state: FreshnessState = nowMs >= staleAtMs ? 'stale' : nowMs >= ageingAtMs ? 'ageing' : 'fresh';
  return {
    state,
    basis,
    datedAt,
    ageMs: ageOf(datedAt, now),
    ageingAt: new Date(ageingAtMs),
    staleAt: new Date(staleAtMs),
  };
}

function dateOf(dates: ListDates): { datedAt: Date; basis: AgeBasis } {
  if (Number.isNaN(dates.fetchedAt.getTime())) {
    throw new CallgateError(ErrorCode.CONFIG, 'fetchedAt must be a valid date, got Invalid Date');
  }
  const source = dates.sourceDate;
  // An Invalid Date compares false with everything; treat it as no date rather than "never stale".
  if (source === null || Number.isNaN(source.getTime())) return { datedAt: dates.fetchedAt, basis: 'fetched_no_source_date' };
  if (source.getTime() > dates.fetchedAt.getTime()) return { datedAt: dates.fetchedAt, basis: 'fetched_source_in_future' };
  return { datedAt: source, basis: 'source' };
}

function assertFreshnessLimits(limits: FreshnessLimits): void {
  if (!(Number.isFinite(limits.maxAgeDays) && limits.maxAgeDays > 0)) {
    throw new CallgateError(ErrorCode.CONFIG, `maxAgeDays must be a number > 0, got ${String(limits.maxAgeDays)}`);
  }
  if (!(Number.isFinite(limits.warnDays) && limits.warnDays >= 0 && limits.warnDays < limits.maxAgeDays)) {
    throw new CallgateError(
      ErrorCode.CONFIG,
      `warnDays must be a number >= 0 and < maxAgeDays (${limits.maxAgeDays}), got ${String(limits.warnDays)}`,
    );
  }
}
