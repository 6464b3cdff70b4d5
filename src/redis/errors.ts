/**
 * How the Redis parts fail: a Redis error wrapped as CALLGATE_ERR_REDIS with what was being done, and the
 * argument guards (CALLGATE_ERR_CONFIG) every part applies to its options. One definition for all parts.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';

export function redisError(doing: string, err: unknown): CallgateError {
  if (err instanceof CallgateError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CallgateError(ErrorCode.REDIS, `Redis failed ${doing}: ${message}`, { cause: err });
}

/** err as an Error, for onError callbacks. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new CallgateError(ErrorCode.CONFIG, `${name} must be a positive integer, got ${String(value)}`);
  }
}

export function positive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new CallgateError(ErrorCode.CONFIG, `${name} must be a positive number, got ${String(value)}`);
  }
}

export function nonNegativeInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CallgateError(ErrorCode.CONFIG, `${name} must be a non-negative integer, got ${String(value)}`);
  }
}
