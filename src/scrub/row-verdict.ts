/**
 * A lead row's verdict as the scrub writes it: the four appended columns (verdict, reason, e164,
 * retryAt), the rows blocked before any gate is asked (no number, a row too long or badly quoted, a
 * number over the protocol's length), and which answers mean "not decided" (the gate could not say:
 * the file must not be shipped as scrubbed). Fail closed: only an entry that is exactly an allow with
 * no error is callable. Pure: no I/O.
 */
import { MAX_NUMBER_LENGTH } from '../check/protocol.js';
import { Reason } from '../check/verdict.js';
import type { BatchEntry } from '../client/replies.js';
import type { CsvRecord } from './reader.js';

export const APPENDED_COLUMNS: readonly string[] = ['verdict', 'reason', 'e164', 'retryAt'];

/** Reasons the scrub gives itself, for a row it never sends (reserved words: check/verdict.ts). */
export const ScrubReason = {
  NO_NUMBER: 'no_number',
  ROW_TOO_LONG: 'row_too_long',
  BROKEN_QUOTING: 'broken_quoting',
  STRAY_LINE_BREAK: 'stray_line_break',
} as const;

/** Reasons that mean the gate could not decide: the row is blocked, and the scrub exits non-zero. */
const UNDECIDED: ReadonlySet<string> = new Set<string>([Reason.GATE_UNAVAILABLE, Reason.NOT_READY, Reason.UNCONFIRMED, Reason.STALE_LIST, Reason.AUDIT_UNAVAILABLE, Reason.UNKNOWN_CAMPAIGN, 'bad_request']);

/** Reasons of a bad row: listed in the report with the row's line. */
const BAD_ROW: ReadonlySet<string> = new Set<string>([ScrubReason.NO_NUMBER, ScrubReason.ROW_TOO_LONG, ScrubReason.BROKEN_QUOTING, ScrubReason.STRAY_LINE_BREAK, Reason.INVALID_NUMBER]);

export interface RowVerdict {
  readonly callable: boolean;
  readonly reason: string;
  /** The appended columns, in APPENDED_COLUMNS order. */
  readonly fields: readonly string[];
  /** The gate could not decide this row. */
  readonly undecided: boolean;
  /** A bad row (no number, unparseable, too long, broken quoting). */
  readonly bad: boolean;
}

function verdictOf(verdict: 'allow' | 'block', reason: string, e164: string | null, retryAt: string | undefined, error: boolean): RowVerdict {
  const callable = verdict === 'allow' && !error;
  const finalReason = verdict === 'allow' && error ? Reason.GATE_UNAVAILABLE : reason;
  return {
    callable,
    reason: finalReason,
    fields: [callable ? 'allow' : 'block', finalReason, e164 ?? '', retryAt ?? ''],
    undecided: error || UNDECIDED.has(finalReason),
    bad: BAD_ROW.has(finalReason),
  };
}

/**
 * The number to send for a row, or the verdict that blocks it without asking: a broken or too-long row,
 * an empty phone cell, a cell over the protocol's length (no number is that long: invalid_number).
 */
export function numberOrBlock(record: CsvRecord, column: number): { readonly number: string } | { readonly blocked: RowVerdict } {
  if (record.problem !== null) return { blocked: verdictOf('block', record.problem, null, undefined, false) };
  const cell = (record.fields[column] ?? '').trim();
  if (cell === '') return { blocked: verdictOf('block', ScrubReason.NO_NUMBER, null, undefined, false) };
  if (cell.length > MAX_NUMBER_LENGTH) return { blocked: verdictOf('block', Reason.INVALID_NUMBER, null, undefined, false) };
  return { number: cell };
}

/** The verdict of a gate's (or the fail-closed client's) answer for one row. */
export function fromAnswer(entry: BatchEntry): RowVerdict {
  return verdictOf(entry.verdict, entry.reason, entry.number, entry.retryAt, entry.error !== undefined);
}
