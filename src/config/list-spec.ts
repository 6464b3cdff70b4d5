import { CallgateError, ErrorCode } from '../core/errors.js';
import { RESERVED_REASON_WORDS } from '../check/verdict.js';
import type { LoadPacing } from '../refresh/pacing.js';

/** `deny`: a listed number is blocked. `allow` (consents, customers) is read by the rules policies. */
export type ListKind = 'deny' | 'allow';

/** How a list with a source is refreshed and guarded. */
export interface RefreshPolicy {
  /** Cron expression of the scheduled refresh. */
  readonly cron: string;
  readonly timezone: string;
  /** Past this age, counted from the source's own date, checks answer `stale_list`. */
  readonly maxAgeDays: number;
  /** An ageing alert is raised this many days before the list goes stale. */
  readonly warnDays: number;
  /** A new list smaller than the current one by more than this ratio is refused (unless forced). */
  readonly maxShrinkRatio: number;
  /** A new list with more bad lines than this ratio of its lines is refused (unless forced). */
  readonly maxBadLineRatio: number;
  /** A list file is read once it has not changed for this long (ms). @default list-source's DEFAULT_SETTLE_MS */
  readonly settleMs?: number;
  /** Most bytes of text (after gunzip) of one source. @default list-read's DEFAULT_READ_LIMITS */
  readonly maxListBytes?: number;
  /** Longest list line, in characters. @default list-read's DEFAULT_READ_LIMITS */
  readonly maxLineChars?: number;
  /** How a load paces itself by the latency it causes (refresh/pacing.ts). @default refresh/pacing's DEFAULT_LOAD_PACING */
  readonly pacing?: LoadPacing;
}

/** What an allow-list proves: the consumer's consent, or a contract in progress. */
export type AllowRole = 'consent' | 'contract';

export interface ListSpec {
  readonly name: string;
  readonly kind: ListKind;
  /** Allow-lists only; null for deny-lists. */
  readonly role: AllowRole | null;
  /**
   * A path or an http(s) URL; null for a list that only changes through intraday additions
   * (`callgate list add`), e.g. an internal do-not-call list, which is never stale.
   */
  readonly source: string | null;
  readonly falsePositiveRate: number;
  readonly refresh: RefreshPolicy;
}

export interface ListDefaults {
  readonly falsePositiveRate: number;
  readonly refresh: RefreshPolicy;
}

const LIST_NAME = /^[a-z][a-z0-9_-]*$/;

export function validateListName(name: string): string {
  if (!LIST_NAME.test(name)) {
    throw new CallgateError(
      ErrorCode.LIST_NAME,
      `list name ${JSON.stringify(name)} is invalid: expected [a-z][a-z0-9_-]* (lowercase letter first)`,
    );
  }
  if (RESERVED_REASON_WORDS.has(name)) {
    throw new CallgateError(
      ErrorCode.LIST_NAME,
      `list name ${JSON.stringify(name)} is a reserved reason word; choose another (reserved: ${[...RESERVED_REASON_WORDS].join(', ')})`,
    );
  }
  return name;
}

/** A consent list: its lines may carry consent terms after the number (rules/consent-terms.ts). */
export function readsTerms(spec: ListSpec): boolean {
  return spec.kind === 'allow' && spec.role === 'consent';
}

/** Parses the `--list NAME=PATH` shorthand: a deny-list. */
export function parseListShorthand(value: string, defaults: ListDefaults): ListSpec {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) {
    throw new CallgateError(ErrorCode.CONFIG, `--list expects NAME=PATH, got ${JSON.stringify(value)}`);
  }
  return {
    name: validateListName(value.slice(0, eq)),
    kind: 'deny',
    role: null,
    source: value.slice(eq + 1),
    falsePositiveRate: defaults.falsePositiveRate,
    refresh: defaults.refresh,
  };
}
