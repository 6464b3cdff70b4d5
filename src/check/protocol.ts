/**
 * The WebSocket wire protocol (JSON text frames), decoded and validated at the edge, encoded from
 * fragments. Pinned in docs/protocol.md; tests assert on it.
 */
import { duplicateKey, MAX_FRAME_KEYS, NOT_OBJECT, scanFrame, TOO_DEEP } from './frame-shape.js';
import type { CheckResult } from './verdict.js';

export type RequestId = string | number;

export type CallOutcome = 'no_answer' | 'answered' | 'refused';

export type Request =
  /** `dial: true`: "I dial now if allowed" — an allow then counts as an attempt, atomically. */
  | { readonly op: 'check'; readonly id: RequestId; readonly number: string; readonly campaign: string | null; readonly dial: boolean }
  | { readonly op: 'batch'; readonly id: RequestId; readonly numbers: readonly string[]; readonly campaign: string | null }
  | { readonly op: 'outcome'; readonly id: RequestId; readonly number: string; readonly campaign: string | null; readonly outcome: CallOutcome };

export const OUTCOMES: ReadonlySet<string> = new Set<CallOutcome>(['no_answer', 'answered', 'refused']);

export type Decoded =
  | { readonly ok: true; readonly request: Request }
  | { readonly ok: false; readonly id: RequestId | null; readonly message: string };

export interface ProtocolLimits {
  readonly maxBatchSize: number;
}

const MAX_ID_LENGTH = 128;
export const MAX_CAMPAIGN_LENGTH = 64;
export const MAX_NUMBER_LENGTH = 64;

/**
 * A reply echoes its request's id: an integer past 2^53 comes back rounded (two requests, one reply
 * id), so a numeric id must be a safe integer (issue 11 item 6).
 */
function idOf(value: unknown): RequestId | null {
  if (typeof value === 'string' && value.length <= MAX_ID_LENGTH) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  return null;
}

/**
 * Control characters (C0, DEL, C1) and the Unicode line and paragraph separators: a campaign is
 * written into tab-separated and line-based output (`callgate audit`), where they forge fields and
 * lines (issue 12 item 6).
 */
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Why a given campaign value is refused, or null: the one rule for frames and HTTP parameters. */
export function campaignProblem(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CAMPAIGN_LENGTH) {
    return `"campaign" must be a non-empty string of at most ${MAX_CAMPAIGN_LENGTH} characters`;
  }
  if (CONTROL_CHARACTER.test(value)) return '"campaign" must not contain control characters (tab, newline, …)';
  return null;
}

function fail(id: RequestId | null, message: string): Decoded {
  return { ok: false, id, message };
}

export function decodeRequest(text: string, limits: ProtocolLimits): Decoded {
  // The shape first, so JSON.parse only ever sees a flat object (check/frame-shape.ts).
  const keyCount = scanFrame(text);
  if (keyCount < 0) {
    if (keyCount === NOT_OBJECT) return fail(null, 'frame must be a JSON object');
    if (keyCount === TOO_DEEP) return fail(null, 'frame must be a flat JSON object (a batch: "numbers", a flat array of strings)');
    return fail(null, `frame has more than ${MAX_FRAME_KEYS} fields`);
  }
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return fail(null, 'frame is not valid JSON');
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return fail(null, 'frame must be a JSON object');
  const m = msg as Record<string, unknown>;
  let id = idOf(m['id']);
  // Fewer own keys than keys written: one was named twice, and JSON.parse kept only its last value.
  if (Object.keys(m).length !== keyCount) {
    const key = duplicateKey(text) ?? '?';
    // A duplicated "id" leaves no id to answer to.
    if (key === 'id') id = null;
    return fail(id, `field ${JSON.stringify(key.slice(0, 32))} appears more than once`);
  }
  if (id === null) return fail(null, `"id" must be a string (at most ${MAX_ID_LENGTH} characters) or a safe integer (at most 2^53-1 in magnitude)`);
  if (m['op'] !== 'check' && m['op'] !== 'outcome') return fail(id, `unknown op ${JSON.stringify(m['op'])}; expected "check" or "outcome"`);

  const campaignValue = m['campaign'];
  let campaign: string | null = null;
  if (campaignValue !== undefined && campaignValue !== null) {
    const problem = campaignProblem(campaignValue);
    if (problem !== null) return fail(id, problem);
    campaign = campaignValue as string;
  }

  const number = m['number'];
  const numbers = m['numbers'];
  const dial = m['dial'] ?? false;
  if (typeof dial !== 'boolean') return fail(id, '"dial" must be true or false');
  if (m['op'] === 'outcome') {
    if (typeof number !== 'string' || number.length > MAX_NUMBER_LENGTH) return fail(id, `an outcome needs "number", a string of at most ${MAX_NUMBER_LENGTH} characters`);
    const outcome = m['outcome'];
    if (typeof outcome !== 'string' || !OUTCOMES.has(outcome)) return fail(id, '"outcome" must be "no_answer", "answered" or "refused"');
    return { ok: true, request: { op: 'outcome', id, number, campaign, outcome: outcome as CallOutcome } };
  }
  if (number !== undefined && numbers !== undefined) return fail(id, 'give either "number" or "numbers", not both');
  if (number !== undefined) {
    if (typeof number !== 'string' || number.length > MAX_NUMBER_LENGTH) return fail(id, `"number" must be a string of at most ${MAX_NUMBER_LENGTH} characters`);
    return { ok: true, request: { op: 'check', id, number, campaign, dial } };
  }
  if (numbers !== undefined) {
    // A dial counts one attempt for one call; a batch is a list scrub, never a dial.
    if (dial) return fail(id, '"dial" is for single checks only: a batch cannot be dialled');
    if (!Array.isArray(numbers) || numbers.length === 0) return fail(id, '"numbers" must be a non-empty array of strings');
    if (numbers.length > limits.maxBatchSize) return fail(id, `"numbers" has ${numbers.length} entries; at most ${limits.maxBatchSize} per batch`);
    for (let i = 0; i < numbers.length; i++) {
      const n: unknown = numbers[i];
      if (typeof n !== 'string' || n.length > MAX_NUMBER_LENGTH) return fail(id, `"numbers"[${i}] must be a string of at most ${MAX_NUMBER_LENGTH} characters`);
    }
    return { ok: true, request: { op: 'batch', id, numbers: numbers as string[], campaign } };
  }
  return fail(id, 'a check needs "number" (one) or "numbers" (a batch)');
}

function encodeId(id: RequestId | null): string {
  return id === null ? 'null' : JSON.stringify(id);
}

// Reasons are reason words or validated list names and numbers are E.164: no escaping needed.
function numberField(number: string | null): string {
  return number === null ? 'null' : `"${number}"`;
}

export function encodeCheckReply(id: RequestId, r: CheckResult): string {
  return `{"id":${encodeId(id)},${encodeCheckFields(r)}`;
}

/**
 * A check reply after its id, closing brace included: `{` + this is the reply without an id (the HTTP
 * door's), the same bytes as the socket's by construction.
 */
export function encodeCheckFields(r: CheckResult): string {
  const extra = (r.basis === undefined ? '' : `,"basis":"${r.basis}"`) + (r.retryAt === undefined ? '' : `,"retryAt":"${r.retryAt}"`);
  return `"verdict":"${r.verdict}","reason":"${r.reason}","number":${numberField(r.number)}${extra}}`;
}

/** replicated false (Redis mode waiting for replicas, none seen to hold the refusal in time) adds `"replicated":false`. */
export function encodeOutcomeReply(id: RequestId, number: string, outcome: CallOutcome, replicated = true): string {
  return `{"id":${encodeId(id)},"ok":true,"number":"${number}","outcome":"${outcome}"${replicated ? '' : ',"replicated":false'}}`;
}

export function encodeBatchReply(id: RequestId, results: readonly CheckResult[]): string {
  const parts = new Array<string>(results.length);
  for (let i = 0; i < results.length; i++) {
    const r = results[i] as CheckResult;
    // retryAt, when a rule gives one, so a scrub can say when a blocked lead may be called (issue 15).
    parts[i] = `{"number":${numberField(r.number)},"verdict":"${r.verdict}","reason":"${r.reason}"${r.retryAt === undefined ? '' : `,"retryAt":"${r.retryAt}"`}}`;
  }
  return `{"id":${encodeId(id)},"results":[${parts.join(',')}]}`;
}

export type ErrorReplyCode = 'bad_request' | 'overloaded' | 'internal';

export function encodeErrorReply(id: RequestId | null, code: ErrorReplyCode, message: string): string {
  return JSON.stringify({ id, error: { code, message } });
}
