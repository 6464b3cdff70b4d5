/**
 * Calling policies and their rules, as one pure evaluation: facts in (list check, consent, contract,
 * refusal, attempt count, consumer zone, the instant), decision out. The caller fetches the facts,
 * counts an allowed attempt atomically (Redis) and writes the audit trail.
 *
 * Rule order (fixed; the first rule that blocks gives the reason, so one number always gets one
 * reason whatever else it hits):
 *   1. invalid_number    the number is not E.164: nothing else can be decided.
 *   2. not_ready / stale_list   the lists cannot answer: fail closed before reading them.
 *   3. deny-list (its name)     an opposition beats everything, consent included (a later "no" revokes
 *                               an earlier "yes"); a contract lifts only lists named in
 *                               `contractExceptionLists` (Bloctel: L223-1 exception for a contract in progress).
 *   4. sector_ban        canvassing banned for the sector (energy renovation, home adaptation: loi
 *                        2020-901; CPF: loi 2022-1587) unless within a contract in progress.
 *   5. refused_recently  the consumer refused during a call: no call nor attempt for 60 days
 *                        (décret 2022-1313). A contract does not lift it: the refusal is explicit.
 *   6. no_consent        opt-in (loi 2025-594 art. 13, from 11 August 2026): valid consent or a contract.
 *   7. outside_hours / holiday   décret 2022-1313 windows in the consumer's zone.
 *   8. frequency_cap     last, because an allow counts as an attempt: a call blocked by an earlier rule
 *                        must not look like it used up the consumer's quota.
 */
import { FR_WINDOWS, nextAllowedAt, type CallingWindows, evaluateHours } from './calling-hours.js';
import { addDays, formatLocalIso, localDateOf, wallTimeToInstant } from './zoned-time.js';
import type { ConsumerZone } from './consumer-zone.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { Reason } from '../check/verdict.js';
import { DAY_MS } from '../core/time.js';


export interface FrequencyCap {
  /** Calls or attempts (unanswered dials count) allowed per window. */
  readonly max: number;
  /** Window length in days. */
  readonly windowDays: number;
}

export interface PolicyConfig {
  readonly name: string;
  /** Opt-in: a valid consent or a contract in progress is required. */
  readonly requireConsent: boolean;
  /** Décret 2022-1313 calling windows and holidays apply. */
  readonly hours: boolean;
  /** @default { max: 4, windowDays: 30 } for the French policies; null: no cap. */
  readonly frequencyCap: FrequencyCap | null;
  /** Days without calls after a refusal. @default 60 for the French policies; null: not applied. */
  readonly refusalDays: number | null;
  /** Sectors that may not be canvassed by phone. @default DEFAULT_BANNED_SECTORS for the French policies. */
  readonly bannedSectors: readonly string[];
  /**
   * Deny-lists that a contract in progress overrides (opposition lists such as Bloctel results, whose
   * law exempts a contract in progress). @default [] — a list blocks even customers unless named here:
   * an internal opt-out is the consumer's own "do not call me", which no contract overrides.
   */
  readonly contractExceptionLists: readonly string[];
  /**
   * An allow is answered only once its audit record is queued for a disk that takes writes: while the
   * audit trail cannot be written (disk full, failing, buffer at its cap) such checks block as
   * `audit_unavailable` (loi 2025-594 art. 13 puts the proof on the caller). @default true for the French
   * policies, false for deny-lists.
   */
  readonly allowNeedsAudit: boolean;
}

/** Sectors banned from phone canvassing (loi 2020-901 art. 7; loi 2022-1587 for CPF). */
export const DEFAULT_BANNED_SECTORS: readonly string[] = Object.freeze(['energy_renovation', 'home_adaptation', 'cpf']);

export const FR_FREQUENCY_CAP: FrequencyCap = Object.freeze({ max: 4, windowDays: 30 });
export const FR_REFUSAL_DAYS = 60;

/** Deny-lists only: no hours, caps, consent or sectors (e.g. a non-French campaign). */
export const DENY_LISTS_POLICY: PolicyConfig = Object.freeze({
  name: 'deny-lists',
  requireConsent: false,
  hours: false,
  frequencyCap: null,
  refusalDays: null,
  bannedSectors: Object.freeze([]),
  contractExceptionLists: Object.freeze([]),
  allowNeedsAudit: false,
});

/**
 * France until 10 August 2026 (opposition regime): deny-lists, contract exception (for the lists
 * configured so), hours, caps, refusals, and the sector bans already in force since 2020/2022.
 */
export const FR_OPTOUT_POLICY: PolicyConfig = Object.freeze({
  name: 'fr-optout',
  requireConsent: false,
  hours: true,
  frequencyCap: FR_FREQUENCY_CAP,
  refusalDays: FR_REFUSAL_DAYS,
  bannedSectors: DEFAULT_BANNED_SECTORS,
  contractExceptionLists: Object.freeze([]),
  allowNeedsAudit: true,
});

/** France from 11 August 2026 (loi 2025-594 art. 13): consent or contract, plus everything above. */
export const FR_OPTIN_POLICY: PolicyConfig = Object.freeze({ ...FR_OPTOUT_POLICY, name: 'fr-optin', requireConsent: true });

export const BUILTIN_POLICIES: ReadonlyMap<string, PolicyConfig> = new Map(
  [DENY_LISTS_POLICY, FR_OPTOUT_POLICY, FR_OPTIN_POLICY].map((p) => [p.name, p]),
);

function configError(what: string, got: unknown): CallgateError {
  return new CallgateError(ErrorCode.CONFIG, `policy: expected ${what}, got ${JSON.stringify(got)}`);
}

function positiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw configError(what, value);
  return value;
}

function bool(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw configError(what, value);
  return value;
}

function names(value: unknown, what: string): readonly string[] {
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string' && s !== '')) throw configError(what, value);
  return Object.freeze([...(value as string[])]);
}

/**
 * A configured policy: a built-in (`base`) with some fields overridden, validated once at start-up.
 * Throws CALLGATE_ERR_CONFIG on an unknown base or a bad field.
 */
export function definePolicy(base: string, overrides: Partial<PolicyConfig> = {}): PolicyConfig {
  const b = BUILTIN_POLICIES.get(base);
  if (b === undefined) throw configError(`one of ${[...BUILTIN_POLICIES.keys()].join(', ')} as base`, base);
  const p = { ...b, ...overrides };
  if (typeof p.name !== 'string' || p.name === '') throw configError('a non-empty name', p.name);
  const cap = p.frequencyCap === null ? null : Object.freeze({
    max: positiveInt(p.frequencyCap.max, 'frequencyCap.max: an integer ≥ 1'),
    windowDays: positiveInt(p.frequencyCap.windowDays, 'frequencyCap.windowDays: an integer ≥ 1'),
  });
  return Object.freeze({
    name: p.name,
    requireConsent: p.requireConsent === true,
    hours: p.hours === true,
    frequencyCap: cap,
    refusalDays: p.refusalDays === null ? null : positiveInt(p.refusalDays, 'refusalDays: an integer ≥ 1'),
    bannedSectors: names(p.bannedSectors, 'bannedSectors: an array of non-empty strings'),
    contractExceptionLists: names(p.contractExceptionLists, 'contractExceptionLists: an array of list names'),
    allowNeedsAudit: bool(p.allowNeedsAudit, 'allowNeedsAudit: true or false'),
  });
}

export type ConsentState = { readonly state: 'valid' } | { readonly state: 'none' } | { readonly state: 'expired' };

/** What the list snapshot can say: `ready`, or why it cannot (the check's fixed reasons). */
export type ListStatus = 'ready' | typeof Reason.NOT_READY | typeof Reason.STALE_LIST;

export interface PolicyInput {
  readonly policy: PolicyConfig;
  /** Normalised number, or null when normalisation failed. */
  readonly e164: string | null;
  readonly now: Date;
  readonly lists: ListStatus;
  /**
   * The deny-list check's answer: the first configured deny-list that has the number (confirmed), or
   * 'unconfirmed' when a hit could not be confirmed (never lifted by a contract), or null.
   */
  readonly denyHit: string | null;
  readonly consent: ConsentState;
  /** A contract in progress with this consumer (and the call is about it or related offers). */
  readonly contract: boolean;
  /** The campaign's sector, or null when it has none. */
  readonly sector: string | null;
  /** End of the no-call period after the consumer's last refusal (ms since epoch), or null. See refusalEndsAt. */
  readonly refusedUntil: number | null;
  /** Calls and attempts to this consumer already made within the cap's window. */
  readonly attemptsInWindow: number;
  /** Instant of the oldest attempt still in the window (ms since epoch), or null when none. */
  readonly oldestAttemptAt: number | null;
  /** The consumer's zone (rules/consumer-zone.ts), or null when the number cannot be placed. */
  readonly zone: ConsumerZone | null;
  /** @default FR_WINDOWS */
  readonly windows?: CallingWindows;
}

export type RuleReason = 'sector_ban' | 'refused_recently' | 'no_consent' | 'outside_hours' | 'holiday' | 'frequency_cap';
export type Basis = 'consent' | 'contract' | 'not_listed';

export interface Decision {
  readonly verdict: 'allow' | 'block';
  /** On allow: the basis. On block: a fixed reason word or the deny-list's name. */
  readonly reason: string;
  /** On allow: what made the call lawful. */
  readonly basis?: Basis;
  /** On a time-bound block: the next instant worth retrying, ISO 8601 with the consumer's offset. */
  readonly retryAt?: string;
  /** True only on allow: the caller then counts this attempt (atomically) towards the cap. */
  readonly countsAttempt: boolean;
}

const E164 = /^\+[1-9]\d{1,14}$/;

function block(reason: string, retryAt?: string): Decision {
  return retryAt === undefined ? { verdict: 'block', reason, countsAttempt: false } : { verdict: 'block', reason, retryAt, countsAttempt: false };
}

/** When a block ends at `untilMs`: the first allowed instant from then (hours permitting), in the consumer's offset. */
function retryFrom(untilMs: number, input: PolicyInput): string {
  const tz = input.zone?.timezone ?? 'UTC';
  if (input.policy.hours && input.zone !== null) {
    return formatLocalIso(nextAllowedAt(untilMs, input.zone, input.windows ?? FR_WINDOWS), tz);
  }
  return formatLocalIso(untilMs, tz);
}

/** Evaluates the rules in the fixed order above. Pure: same input, same decision. */
export function evaluatePolicy(input: PolicyInput): Decision {
  const { policy, now } = input;
  const nowMs = now.getTime();
  let liftedByContract = false;

  // 1. A number we cannot read cannot be checked against anything.
  if (input.e164 === null || !E164.test(input.e164)) return block(Reason.INVALID_NUMBER);

  // 2. Lists that cannot answer block everything (fail closed).
  if (input.lists !== 'ready') return block(input.lists);

  // 3. Deny-lists, before consent: an opposition revokes any earlier consent.
  if (input.denyHit !== null) {
    if (input.contract && input.denyHit !== Reason.UNCONFIRMED && policy.contractExceptionLists.includes(input.denyHit)) {
      liftedByContract = true;
    } else {
      return block(input.denyHit);
    }
  }

  // 4. Banned sectors: only a contract in progress lifts the ban.
  if (input.sector !== null && policy.bannedSectors.includes(input.sector)) {
    if (!input.contract) return block('sector_ban');
    liftedByContract = true;
  }

  // 5. A refusal during a call: no call and no attempt until refusedUntil (strictly after it is free).
  if (policy.refusalDays !== null && input.refusedUntil !== null && input.refusedUntil > nowMs) {
    return block('refused_recently', retryFrom(input.refusedUntil, input));
  }

  // 6. Opt-in: consent (valid, not expired or withdrawn) or a contract.
  const consentValid = input.consent.state === 'valid';
  if (policy.requireConsent && !consentValid && !input.contract) return block('no_consent');

  // 7. Calling windows in the consumer's zone. A number we cannot place has no provable local time.
  if (policy.hours) {
    if (input.zone === null) return block('outside_hours');
    const h = evaluateHours(now, input.zone, input.windows ?? FR_WINDOWS);
    if (!h.ok) return block(h.reason, h.retryAt);
  }

  // 8. The cap, last: the (max+1)-th attempt within the window is refused until the oldest leaves it.
  const cap = policy.frequencyCap;
  if (cap !== null && input.attemptsInWindow >= cap.max) {
    return input.oldestAttemptAt === null
      ? block('frequency_cap')
      : block('frequency_cap', retryFrom(Math.max(nowMs, input.oldestAttemptAt + cap.windowDays * DAY_MS), input));
  }

  let basis: Basis;
  if (!policy.requireConsent) basis = liftedByContract ? 'contract' : 'not_listed';
  else basis = liftedByContract || !consentValid ? 'contract' : 'consent';
  return { verdict: 'allow', reason: basis, basis, countsAttempt: true };
}

/**
 * End of the no-call period after a refusal at `refusedAtMs`: the first instant of the consumer's
 * local day `refusalDays + 1` days after the refusal's local day (refused any time on 1 September with
 * 60 days: free from 1 November 00:00 local, after the 60 whole days 2 September–31 October). Calendar days, not 24-hour blocks, so neither DST nor the
 * hour of the refusal can end the period early; the extra partial day is the price of never ending it
 * early under any reading of "60 days".
 */
export function refusalEndsAt(refusedAtMs: number, timezone: string, refusalDays: number = FR_REFUSAL_DAYS): number {
  const day = localDateOf(refusedAtMs, timezone);
  return wallTimeToInstant(addDays(day, refusalDays + 1), 0, timezone);
}

/**
 * Start of the frequency window at `now`: attempts made strictly after it count. A rolling window of
 * `windowDays` × 24 h (what a Redis sorted set by timestamp gives).
 */
export function attemptWindowStart(now: Date, cap: FrequencyCap = FR_FREQUENCY_CAP): number {
  return now.getTime() - cap.windowDays * DAY_MS;
}
