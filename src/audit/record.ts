/**
 * What an audit record is and how it is written: the record types (check, batch, outcome, why) and their one
 * serialisation, the line a file holds (the record with this process's `instance` spliced in, then '\n').
 * The trail is proof kept for years and parsed by `callgate audit` (audit/query.ts) and by inspectors'
 * tools, so its bytes are defined here once: the hot path's check record (encodeCheckRecord, built from
 * fragments) writes exactly what JSON.stringify of an AuditCheck writes. test/unit/audit/record.test.ts
 * holds golden bytes of each kind.
 */
import type { Basis } from '../rules/policy.js';
import type { CheckResult, ConsentEvidence, Verdict } from '../check/verdict.js';

/** `input` of an invalid number is kept short: it is what the dialer sent, possibly garbage. */
export const AUDIT_INPUT_MAX_CHARS = 40;

/** One decision: a single-number check. */
export interface AuditCheck {
  readonly type: 'check';
  /** ISO 8601 UTC instant of the decision. */
  readonly at: string;
  /** E.164; null when the input could not be normalised. */
  readonly number: string | null;
  /** Only when `number` is null: what was given (truncated by write() to AUDIT_INPUT_MAX_CHARS). */
  readonly input?: string;
  readonly campaign: string | null;
  readonly policy: string;
  readonly verdict: Verdict;
  /** A fixed reason word or the name of the deny-list that has the number. */
  readonly reason: string;
  /** On allow: the rule that allowed the call. */
  readonly basis?: Basis;
  readonly retryAt?: string;
  /** True when the caller said it dials on this answer (it counted as an attempt). */
  readonly dial?: boolean;
  /** The consent consulted (list, state, when, how, proof reference, expiry), when a consent list has the number. */
  readonly consent?: ConsentEvidence;
  /** List name → generation consulted. */
  readonly generations: Readonly<Record<string, string>>;
}

/** A batch check: a summary without numbers (the per-number lines are check records if the caller wants them). */
export interface AuditBatch {
  readonly type: 'batch';
  readonly at: string;
  readonly campaign: string | null;
  readonly policy: string;
  readonly count: number;
  readonly blockedByReason: Readonly<Record<string, number>>;
  readonly generations: Readonly<Record<string, string>>;
}

/** What came of a call (the history the frequency and refusal rules apply to). */
export interface AuditOutcome {
  readonly type: 'outcome';
  readonly at: string;
  readonly number: string;
  readonly campaign: string | null;
  readonly outcome: 'no_answer' | 'answered' | 'refused';
}

/**
 * A `callgate why` (GET /v1/why): who asked about which number, and what each campaign would have answered then.
 * A kind added after the first three: its numbers are under `readings`, never `number`, so a reader that predates
 * it (which finds a number's records by their `"number":` field) passes over it instead of counting it malformed;
 * `v` versions this kind's own fields (audit/query.ts counts a record of a newer `v` or an unknown kind apart).
 */
export interface AuditWhy {
  readonly type: 'why';
  readonly v: typeof WHY_RECORD_VERSION;
  readonly at: string;
  /** Every E.164 reading of the input (two for an ambiguous input). */
  readonly readings: readonly string[];
  /** Who asked (the CLI sends user@host; `who` of the request). */
  readonly who: string;
  /** What a check of the input as written would have answered, per campaign ('(default)': no campaign). */
  readonly verdicts: Readonly<Record<string, string>>;
}

/** The version of AuditWhy's fields this build writes and reads. */
export const WHY_RECORD_VERSION = 1;

/** The record kinds this build reads (a later build may add more: audit/query.ts counts those apart). */
export const AUDIT_KINDS: ReadonlySet<string> = new Set(['check', 'batch', 'outcome', 'why']);

/** What the service writes; the log adds `instance` itself. */
export type AuditEvent = AuditCheck | AuditBatch | AuditOutcome | AuditWhy;
/** What a file line holds. */
export type AuditRecord = AuditEvent & { readonly instance: string };

/** One event as a JSON object (an invalid input truncated to AUDIT_INPUT_MAX_CHARS). */
export function encodeAuditEvent(event: AuditEvent): string {
  let e = event;
  if (e.type === 'check' && e.input !== undefined && e.input.length > AUDIT_INPUT_MAX_CHARS) e = { ...e, input: e.input.slice(0, AUDIT_INPUT_MAX_CHARS) };
  return JSON.stringify(e);
}

/**
 * The check record, serialised from fragments: every field is a known word, an E.164 number, an
 * ISO date or a cached JSON string, except the campaign and an invalid input (JSON-escaped). The
 * same fields, in the same order, as AuditCheck, which the reader parses. On the check path: it costs a
 * fraction of JSON.stringify on an object. `generationsJson` is the consulted generations, serialised once
 * per snapshot by the caller.
 */
export function encodeCheckRecord(at: string, raw: string, campaign: string | null, policy: string, dial: boolean, r: CheckResult, generationsJson: string): string {
  return `${encodeCheckRecordOpen(at, raw, campaign, policy, dial, r, generationsJson)}}`;
}

/**
 * encodeCheckRecord without its closing brace, for the log's writeJsonOpen: the file line is then this and the
 * instance tail, with no copy of the whole record made to cut its brace off (one per check, issue 17).
 */
export function encodeCheckRecordOpen(at: string, raw: string, campaign: string | null, policy: string, dial: boolean, r: CheckResult, generationsJson: string): string {
  return (
    `{"type":"check","at":"${at}","number":${r.number === null ? `null,"input":${JSON.stringify(raw.slice(0, AUDIT_INPUT_MAX_CHARS))}` : `"${r.number}"`}` +
    `,"campaign":${campaign === null ? 'null' : JSON.stringify(campaign)},"policy":"${policy}","verdict":"${r.verdict}","reason":"${r.reason}"` +
    `${r.basis === undefined ? '' : `,"basis":"${r.basis}"`}${r.retryAt === undefined ? '' : `,"retryAt":"${r.retryAt}"`}${dial ? ',"dial":true' : ''}` +
    `${r.consent === undefined ? '' : `,"consent":${JSON.stringify(r.consent)}`}` +
    `,"generations":${generationsJson}`
  );
}

/** `,"instance":"…"}\n`, serialised once per log: recordLine() splices it over the record's closing brace. */
export function instanceTail(instanceId: string): string {
  return `,"instance":${JSON.stringify(instanceId)}}\n`;
}

/** A file line: one event's JSON object with `instance` added last. */
export function recordLine(json: string, tail: string): string {
  return json.slice(0, -1) + tail;
}
