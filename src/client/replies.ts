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

const Q = 0x22; // "
const BACKSLASH = 0x5c;

/**
 * The end (index of the closing quote) of a JSON string whose content starts at `from` and needs no
 * unescaping: no backslash, no control character (JSON.parse would refuse those). -1 when it is not such a
 * string: the parsed path decides.
 */
function plainStringEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === Q) return i;
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

/**
 * `{"id":N,"verdict":"V","reason":"R","number":"E"|null[,"basis":"B"][,"retryAt":"T"]}` exactly — the
 * order encodeCheckReply (check/protocol.ts) writes — read without JSON.parse. Returns what readReplyParsed
 * would return for the same text, or null to let it decide (any other shape, escapes, odd ids): the scan
 * only ever accepts frames whose meaning is unambiguous, so it cannot read an allow the parsed path would not.
 */
function readCheckReplyFast(text: string): Reply | null {
  if (!text.startsWith('{"id":')) return null;
  let i = 6;
  // A positive integer without leading zeros, at most 16 digits (then checked safe).
  const first = text.charCodeAt(i);
  if (first < 0x31 || first > 0x39) return null;
  let id = 0;
  for (; i < text.length && i < 6 + 16; i++) {
    const c = text.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) break;
    id = id * 10 + c;
  }
  if (!Number.isSafeInteger(id)) return null;
  let verdict: Verdict;
  if (text.startsWith(',"verdict":"allow","reason":"', i)) verdict = 'allow';
  else if (text.startsWith(',"verdict":"block","reason":"', i)) verdict = 'block';
  else return null;
  i += 29;
  const reasonEnd = plainStringEnd(text, i);
  if (reasonEnd < 0) return null;
  const reason = text.slice(i, reasonEnd);
  if (!isReason(reason)) return null;
  i = reasonEnd + 1;
  if (!text.startsWith(',"number":', i)) return null;
  i += 10;
  let number: string | null;
  if (text.startsWith('null', i)) {
    number = null;
    i += 4;
  } else if (text.charCodeAt(i) === Q) {
    const end = plainStringEnd(text, i + 1);
    if (end < 0) return null;
    number = text.slice(i + 1, end);
    i = end + 1;
  } else return null;
  const answer: { -readonly [K in keyof CheckAnswer]: CheckAnswer[K] } = { verdict, reason, number };
  if (text.startsWith(',"basis":"', i)) {
    const end = plainStringEnd(text, i + 10);
    if (end < 0) return null;
    answer.basis = text.slice(i + 10, end);
    i = end + 1;
  }
  if (text.startsWith(',"retryAt":"', i)) {
    const end = plainStringEnd(text, i + 12);
    if (end < 0) return null;
    answer.retryAt = text.slice(i + 12, end);
    i = end + 1;
  }
  // The closing brace ends the text: JSON.parse allows trailing white space, the parsed path reads that.
  if (i !== text.length - 1 || text.charCodeAt(i) !== 0x7d) return null;
  return { kind: 'check', id, answer };
}

/**
 * Reads one reply frame; null for anything the protocol does not define (never guessed at). The server's
 * single-check reply, byte for byte as check/protocol.ts encodes it, is read by a scan that builds no parse
 * tree (the client's hot path); every other frame, and any check reply the scan is not sure of, is parsed.
 */
export function readReply(text: string): Reply | null {
  return readCheckReplyFast(text) ?? readReplyParsed(text);
}

/** The general reader: JSON.parse, then every field validated. Exported for the test that the scan agrees with it. */
export function readReplyParsed(text: string): Reply | null {
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
