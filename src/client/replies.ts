/**
 * What the client answers, and the reading of the server's reply frames. The verdict and reason types are
 * the server's own (check/verdict.ts, check/protocol.ts): one definition. A reply is validated before it
 * is believed: anything that is not exactly a well-formed `allow` is never an allow (a frame the client
 * cannot read fails its request closed). Pure: no I/O.
 */
import type { CallOutcome, ErrorReplyCode, RequestId } from '../check/protocol.js';
import type { CheckResult, Verdict } from '../check/verdict.js';

/**
 * Why the client answered without the gate's verdict: `gate_unavailable` (timeout, lost or absent
 * connection, full queue, closed client, an unreadable reply), or the server's error reply code.
 */
export type ClientErrorCode = 'gate_unavailable' | ErrorReplyCode;

export interface ClientError {
  readonly code: ClientErrorCode;
  readonly message: string;
}

/**
 * One check's answer: the server's verdict, or the client's fail-closed `block` with `error` saying why.
 * `reason` is a word of `Reason` (check/verdict.ts: `gate_unavailable` among them), `bad_request`, or the
 * name of the deny-list that has the number.
 */
export interface CheckAnswer extends Omit<CheckResult, 'consent'> {
  /** Present only when the client answered without a verdict from the gate. */
  readonly error?: ClientError;
}

/** One number of a batch, in the order sent. */
export interface BatchEntry {
  readonly number: string | null;
  readonly verdict: Verdict;
  readonly reason: string;
  /** Rules policies, on a time-bound block: the next allowed instant (as in a single check's answer). */
  readonly retryAt?: string;
  readonly error?: ClientError;
}

export type OutcomeAnswer =
  | { readonly ok: true; readonly number: string; readonly outcome: CallOutcome }
  | { readonly ok: false; readonly error: ClientError };

/** A reply frame as read: its id and what it says, or null when it is not a reply the protocol defines. */
export type Reply =
  | { readonly kind: 'check'; readonly id: RequestId; readonly answer: CheckAnswer }
  | { readonly kind: 'batch'; readonly id: RequestId; readonly results: readonly BatchEntry[] }
  | { readonly kind: 'outcome'; readonly id: RequestId; readonly number: string; readonly outcome: CallOutcome }
  | { readonly kind: 'error'; readonly id: RequestId | null; readonly error: ClientError };

const ERROR_CODES: ReadonlySet<string> = new Set<ErrorReplyCode>(['bad_request', 'overloaded', 'internal']);
const OUTCOMES: ReadonlySet<string> = new Set<CallOutcome>(['no_answer', 'answered', 'refused']);

function isVerdict(v: unknown): v is Verdict {
  return v === 'allow' || v === 'block';
}

function isReason(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 128;
}

function isNumberField(v: unknown): v is string | null {
  return v === null || typeof v === 'string';
}

function isId(v: unknown): v is RequestId {
  return typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v));
}

function readEntry(v: unknown): BatchEntry | null {
  if (v === null || typeof v !== 'object') return null;
  const e = v as Record<string, unknown>;
  const { number, verdict, reason, retryAt } = e;
  if (!isVerdict(verdict) || !isReason(reason) || !isNumberField(number)) return null;
  if (retryAt !== undefined && typeof retryAt !== 'string') return null;
  return retryAt === undefined ? { number, verdict, reason } : { number, verdict, reason, retryAt };
}

/** Reads one reply frame; null for anything the protocol does not define (never guessed at). */
export function readReply(text: string): Reply | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const m = parsed as Record<string, unknown>;
  const id = m['id'];
  if ('error' in m) {
    const err = m['error'] as Record<string, unknown> | null;
    if (id !== null && !isId(id)) return null;
    const code = err !== null && typeof err === 'object' ? err['code'] : undefined;
    const message = err !== null && typeof err === 'object' && typeof err['message'] === 'string' ? err['message'] : 'error reply';
    // An unknown code is still an error: never a verdict. It counts as the gate being unable to answer.
    return { kind: 'error', id, error: { code: typeof code === 'string' && ERROR_CODES.has(code) ? (code as ErrorReplyCode) : 'internal', message } };
  }
  if (!isId(id)) return null;
  if ('results' in m) {
    const results = m['results'];
    if (!Array.isArray(results)) return null;
    const out: BatchEntry[] = new Array<BatchEntry>(results.length);
    for (let i = 0; i < results.length; i++) {
      const entry = readEntry(results[i]);
      if (entry === null) return null;
      out[i] = entry;
    }
    return { kind: 'batch', id, results: out };
  }
  if (m['ok'] === true) {
    const { number, outcome } = m;
    if (typeof number !== 'string' || typeof outcome !== 'string' || !OUTCOMES.has(outcome)) return null;
    return { kind: 'outcome', id, number, outcome: outcome as CallOutcome };
  }
  const { verdict, reason, number, basis, retryAt } = m;
  if (!isVerdict(verdict) || !isReason(reason) || !isNumberField(number)) return null;
  if ((basis !== undefined && typeof basis !== 'string') || (retryAt !== undefined && typeof retryAt !== 'string')) return null;
  // Built field by field (no spreads): one reply per check on the hot path.
  const answer: { -readonly [K in keyof CheckAnswer]: CheckAnswer[K] } = { verdict, reason, number };
  if (basis !== undefined) answer.basis = basis;
  if (retryAt !== undefined) answer.retryAt = retryAt;
  return { kind: 'check', id, answer };
}
