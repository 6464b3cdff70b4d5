import { CallgateError, ErrorCode } from './errors.js';
import { RESERVED_REASON_WORDS } from './verdict.js';

/** `deny`: a listed number is blocked. `allow` (consents, customers) is read by the rules policies. */
export type ListKind = 'deny' | 'allow';

export interface ListSpec {
  readonly name: string;
  readonly kind: ListKind;
  /** Path of the list file, or null for a list that lives only in Redis (served as loaded there). */
  readonly source: string | null;
  readonly falsePositiveRate: number;
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

/** Parses the `--list NAME=PATH` shorthand: a deny-list. */
export function parseListShorthand(value: string, falsePositiveRate: number): ListSpec {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) {
    throw new CallgateError(ErrorCode.CONFIG, `--list expects NAME=PATH, got ${JSON.stringify(value)}`);
  }
  return {
    name: validateListName(value.slice(0, eq)),
    kind: 'deny',
    source: value.slice(eq + 1),
    falsePositiveRate,
  };
}
