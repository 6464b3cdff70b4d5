/**
 * Verdicts and the reason words callgate answers with. A list's name is also a reason (the deny-list
 * that has the number), so list names may not collide with these words.
 */
export type Verdict = 'allow' | 'block';

/**
 * What an exact confirmation says of one number in one list: listed, not listed, or unknown (Redis
 * unreachable, a generation's marker or bucket gone). 'unconfirmed' always blocks.
 */
export type Membership = 'member' | 'absent' | 'unconfirmed';

export const Reason = {
  NOT_LISTED: 'not_listed',
  INVALID_NUMBER: 'invalid_number',
  NOT_READY: 'not_ready',
  UNCONFIRMED: 'unconfirmed',
  STALE_LIST: 'stale_list',
  /** The policy needs the allow's audit record and the audit trail cannot be written now. */
  AUDIT_UNAVAILABLE: 'audit_unavailable',
  /** The check named a campaign that is not configured (config/rules-config.ts `unknownCampaign`). */
  UNKNOWN_CAMPAIGN: 'unknown_campaign',
  /**
   * Never sent by the server: the client (src/client/) answers it itself when the gate gave no verdict
   * in time (a per-check timeout, a lost connection, a full queue). Reserved here so no list takes it.
   */
  GATE_UNAVAILABLE: 'gate_unavailable',
} as const;

export type FixedReason = (typeof Reason)[keyof typeof Reason];

/**
 * Words a list may never be named, because a reply's `reason` must mean one thing. Includes the words
 * the rules and supervisor issues use (consent, sector_ban …) so configurations written today stay valid.
 */
export const RESERVED_REASON_WORDS: ReadonlySet<string> = new Set([
  ...Object.values(Reason),
  'allow',
  'block',
  'error',
  'other',
  'bad_request',
  'consent',
  'contract',
  'no_consent',
  'sector_ban',
  'refused_recently',
  'outside_hours',
  'holiday',
  'frequency_cap',
  // `callgate scrub`'s own reasons for a lead-file row it could not send (src/scrub/row-verdict.ts).
  'no_number',
  'row_too_long',
  'broken_quoting',
  'stray_line_break',
]);

export interface CheckResult {
  readonly verdict: Verdict;
  /** A fixed reason word or the name of the deny-list that has the number. */
  readonly reason: string;
  /** E.164, or null when the number could not be normalised. */
  readonly number: string | null;
  /** Rules policies, on allow: what made the call lawful (consent, contract, not_listed). */
  readonly basis?: string;
  /** Rules policies, on a time-bound block: the next allowed instant, ISO 8601 with the consumer's offset. */
  readonly retryAt?: string;
  /** Rules policies: the consent consulted, for the audit trail only (never sent to the dialer). */
  readonly consent?: ConsentEvidence;
}

/** A consent-list entry as a decision saw it: the proof an inspector asks for. */
export interface ConsentEvidence {
  readonly list: string;
  /** valid: it counted; expired: its terms ended; revoked: withdrawn after it was given. */
  readonly state: 'valid' | 'expired' | 'revoked';
  readonly consentedAt?: string;
  readonly source?: string;
  readonly proof?: string;
  readonly expiresAt?: string;
}
