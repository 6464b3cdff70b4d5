/**
 * The code of the error a call throws, for assertions on stable codes (never on messages). Anything
 * that is not a CallgateError reads as such, so a test cannot pass on a stray exception.
 */
import { isCallgateError } from '../../src/core/errors.js';

function codeOfError(err: unknown): string {
  return isCallgateError(err) ? err.code : `not a CallgateError: ${String(err)}`;
}

/** The code `fn` throws with, or undefined when it returns. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return codeOfError(err);
  }
  return undefined;
}

/** The code `promise` rejects with, or undefined when it resolves. */
export async function rejectionCodeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return codeOfError(err);
  }
  return undefined;
}
