/**
 * The answer of `callgate why NUMBER` / `GET /v1/why` (docs/why.md): the JSON shape, versioned by `v`, that the
 * route sends and the CLI renders. Every field says what callgate knows; what it does not keep is 'unknown' or
 * null with the reason documented, never a guess. Types only.
 */
import type { Verdict } from '../check/verdict.js';

/** The version of this shape; a client meeting a larger `v` must not read it with older rules. */
export const WHY_VERSION = 1;

/** Something callgate may be unable to say (Redis not answering, a fact it does not keep). */
export type Known<T> = T | 'unknown';

export interface WhyVerdict {
  /** null: a check without a campaign (the default policy). */
  readonly campaign: string | null;
  readonly policy: string;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly basis?: string;
  readonly retryAt?: string;
}

/** An intraday change of the number on a list: when (ISO), and who made it when that is still held. */
export interface WhyChange {
  readonly at: string;
  /** 'unknown': the change is no longer in what this mode keeps (no journal; trimmed from the stream). */
  readonly who: Known<string>;
}

/** The list's current file generation, and whether it lists the number. */
export interface WhyFile {
  readonly generation: string;
  /** When this sidecar installed the generation (ISO). */
  readonly installedAt: string;
  /** The source's own date (file mtime, HTTP Last-Modified), when known. */
  readonly sourceDate: string | null;
  /** The configured path, or URL without credentials or query; null when the list was discovered in Redis. */
  readonly source: string | null;
  readonly count: number;
  /** Whether this generation lists the number ('unknown' in Redis mode when an intraday addition hides it). */
  readonly listed: Known<boolean>;
}

export interface WhyList {
  readonly list: string;
  readonly kind: 'deny' | 'allow';
  readonly role: 'consent' | 'contract' | null;
  /** What a check reads: the file generation and the day's changes together ('unknown': Redis did not answer). */
  readonly holds: Known<boolean>;
  /** Allow-lists: what the entry is worth now ('absent' when the list does not hold the number). */
  readonly state?: Known<'valid' | 'expired' | 'revoked' | 'absent'>;
  /** Consent lists: the terms the file gives (ISO dates). */
  readonly terms?: { readonly consentedAt: string | null; readonly source: string; readonly proof: string; readonly expiresAt: string | null };
  /** null: the list has no generation loaded. */
  readonly file: WhyFile | null;
  /** Added during the day (an opt-out; on an allow-list a grant). */
  readonly added: WhyChange | null;
  /** Allow-lists: withdrawn during the day (a revocation, which overrides the file). */
  readonly revoked: WhyChange | null;
  /**
   * Deny-lists, when the number is not added now: the newest withdrawal of a day's addition (`unblock`), from the
   * record of changes ('unknown' when that record did not answer).
   */
  readonly removed?: Known<WhyChange | null>;
}

/** Refusals and attempts: kept only in Redis mode (embedded mode runs no policy that reads them). */
export type WhyHistory =
  | { readonly kept: false }
  | { readonly kept: true; readonly answered: false }
  | {
      readonly kept: true;
      readonly answered: true;
      /** The last refusal while its no-call period runs (Redis forgets it at the end), else null. */
      readonly refusal: { readonly at: string; readonly until: string } | null;
      readonly attempts: { readonly windowDays: number; readonly count: number; readonly oldestAt: string | null };
    };

export interface WhyReading {
  /** E.164. */
  readonly number: string;
  readonly lists: readonly WhyList[];
  readonly history: WhyHistory;
  /** The verdict of each campaign for this reading alone, now. */
  readonly verdicts: readonly WhyVerdict[];
}

export interface WhyAnswer {
  readonly v: typeof WHY_VERSION;
  /** ISO instant of the answer. */
  readonly at: string;
  readonly mode: 'embedded' | 'redis';
  /** The number as written. */
  readonly input: string;
  /** Its E.164 readings (two for 9 bare digits, numbers/normalise.ts rule 9). */
  readonly readings: readonly WhyReading[];
  /** What a check of the input as written answers now, per campaign (both readings together). */
  readonly verdicts: readonly WhyVerdict[];
}
