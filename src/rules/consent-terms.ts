/**
 * Consent terms: when and how a consumer consented, the reference of its proof, and when it expires —
 * the columns after the number in a consent list — and the rule that says whether a listed consent
 * counts now, given its terms and a revocation. Pure: list-parse reads the columns; embedded checks
 * call judgeAllowEntry; Redis checks run the same rule inside src/redis/lua/decide.lua (kept in step
 * by test/integration/rules/consent.test.ts, which runs both modes on the same cases).
 *
 * Consent list line: `number[,consented_at[,source[,proof[,expires_at]]]]` (`,` `;` or tab). Dates are
 * ISO 8601: `2026-09-01` (00:00 Europe/Paris), `2026-09-01 14:03[:00]` (Europe/Paris wall time) or
 * with `Z` / an offset. A present but unreadable date, or an expiry not after the consent, makes the
 * line bad: counted, and the number is NOT taken as consenting.
 */
import { wallTimeToInstant } from './zoned-time.js';

export interface ConsentTerms {
  /** When the consumer consented (ms since epoch), null when the list does not say. */
  readonly consentedAt: number | null;
  /** How: the channel or form ("web:signup-form-v3", "call:2026-09-01/agent-42"). */
  readonly source: string;
  /** Where the proof is kept (a document or recording reference). */
  readonly proof: string;
  /** The consent no longer counts from this instant (ms since epoch); null: no expiry. */
  readonly expiresAt: number | null;
}

/** Dates without an offset are the French wall clock: consents collected in France are dated so. */
export const TERMS_TIMEZONE = 'Europe/Paris';
/** Longer text fields are cut: a reference, not a document. */
export const MAX_TERM_CHARS = 200;

const DATE_ONLY = /^(\d{4}-\d{2}-\d{2})$/;
const LOCAL_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?$/;
const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/** 'YYYY-MM-DD' (shape already matched) names a day of the proleptic Gregorian calendar, as Date reads it. */
/** Consent and expiry dates before this year are refused (the line is bad, the number not taken). */
const MIN_TERMS_YEAR = 1900;

function validDate(date: string): boolean {
  // Arithmetic, not a Date and its ISO string: a consent list checks two dates per line.
  const y = Number(date.slice(0, 4));
  const m = Number(date.slice(5, 7));
  const d = Number(date.slice(8, 10));
  // Before 1900 is a typo in a consent export, and the zone arithmetic reads years 0–99 as 19xx: refused.
  if (y < MIN_TERMS_YEAR || m < 1 || m > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (m === 2 ? (leap ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31);
}

/**
 * Dates read lately: a consent list repeats the same dates over many lines (a day's sign-ups, one expiry
 * date), so most lines skip the regexes and the zone arithmetic. Bounded: emptied when full.
 */
const DATES_KEPT = 8192;
const dates = new Map<string, number | null>();

/** An ISO 8601 date or date-time → ms since epoch; null when unreadable. Exported for tests. */
export function parseTermsDate(text: string): number | null {
  const known = dates.get(text);
  if (known !== undefined) return known;
  const ms = readTermsDate(text);
  if (dates.size >= DATES_KEPT) dates.clear();
  dates.set(text, ms);
  return ms;
}

function readTermsDate(text: string): number | null {
  const t = text.trim();
  let m = DATE_ONLY.exec(t);
  if (m !== null) return validDate(m[1] as string) ? wallTimeToInstant(m[1] as string, 0, TERMS_TIMEZONE) : null;
  m = LOCAL_TIME.exec(t);
  if (m !== null) {
    const [, date, hh, mm, ss] = m as unknown as [string, string, string, string, string | undefined];
    const h = Number(hh);
    const min = Number(mm);
    const s = ss === undefined ? 0 : Number(ss);
    if (!validDate(date) || h > 23 || min > 59 || s > 59) return null;
    return wallTimeToInstant(date, h * 60 + min, TERMS_TIMEZONE) + s * 1000;
  }
  if (!WITH_OFFSET.test(t) || !validDate(t.slice(0, 10))) return null;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

function text(value: string | undefined): string {
  // Tabs and line breaks would break the stored form; anything else is kept as written.
  return (value ?? '').replace(/[\t\r\n]+/g, ' ').trim().slice(0, MAX_TERM_CHARS);
}

/**
 * The fields after the number → terms; null when there are none (a bare number: consent with no
 * recorded terms), 'bad' when a date is unreadable or the expiry is not after the consent.
 */
export function parseTerms(fields: readonly string[]): ConsentTerms | null | 'bad' {
  const [at = '', source, proof, expires = ''] = fields;
  if (fields.every((f) => f.trim() === '')) return null;
  const consentedAt = at.trim() === '' ? null : parseTermsDate(at);
  const expiresAt = expires.trim() === '' ? null : parseTermsDate(expires);
  if ((at.trim() !== '' && consentedAt === null) || (expires.trim() !== '' && expiresAt === null)) return 'bad';
  if (consentedAt !== null && expiresAt !== null && expiresAt <= consentedAt) return 'bad';
  return { consentedAt, source: text(source), proof: text(proof), expiresAt };
}

/**
 * The stored form, one string per number (a JS Map value in memory, a Redis hash field): expiry first
 * and consent time second, as integers or empty, so that the Redis script reads both with one match.
 */
export function encodeTerms(t: ConsentTerms): string {
  return `${t.expiresAt ?? ''}\t${t.consentedAt ?? ''}\t${t.source}\t${t.proof}`;
}

export function decodeTerms(s: string): ConsentTerms | null {
  const parts = s.split('\t');
  if (parts.length !== 4) return null;
  const [exp, at, source, proof] = parts as [string, string, string, string];
  const expiresAt = exp === '' ? null : Number(exp);
  const consentedAt = at === '' ? null : Number(at);
  if ((expiresAt !== null && !Number.isSafeInteger(expiresAt)) || (consentedAt !== null && !Number.isSafeInteger(consentedAt))) return null;
  return { consentedAt, source, proof, expiresAt };
}

/**
 * What an allow-list says of a number, beyond membership: `revoked` (withdrawn after it was given) and
 * `expired` (its terms ended) both mean "does not allow". 'member' | 'absent' | 'unconfirmed' as for any list.
 */
export type AllowAnswer = 'member' | 'absent' | 'unconfirmed' | 'revoked' | 'expired';

/**
 * The rule, in both modes: a listed number is revoked when a revocation is recorded and the list does
 * not date the consent after it (a consent given again after a withdrawal, in a newer file, stands);
 * otherwise expired once `now` reaches its expiry. An unreadable stored form counts as expired: it
 * cannot prove anything.
 */
export function judgeAllowEntry(listed: boolean, terms: string | null, revokedAt: number | null, nowMs: number): AllowAnswer {
  if (!listed) return 'absent';
  const t = terms === null ? null : decodeTerms(terms);
  if (revokedAt !== null && (t?.consentedAt ?? null) === null) return 'revoked';
  if (revokedAt !== null && t !== null && t.consentedAt !== null && t.consentedAt <= revokedAt) return 'revoked';
  if (terms !== null && t === null) return 'expired';
  if (t !== null && t.expiresAt !== null && t.expiresAt <= nowMs) return 'expired';
  return 'member';
}
