/**
 * One error class with stable string codes. Tests assert on `code`, never on messages.
 */
export const ErrorCode = {
  CONFIG: 'CALLGATE_ERR_CONFIG',
  NO_LISTS: 'CALLGATE_ERR_NO_LISTS',
  LIST_NAME: 'CALLGATE_ERR_LIST_NAME',
  LIST_READ: 'CALLGATE_ERR_LIST_READ',
  LIST_EMPTY: 'CALLGATE_ERR_LIST_EMPTY',
  LIST_REFUSED: 'CALLGATE_ERR_LIST_REFUSED',
  BAD_REQUEST: 'CALLGATE_ERR_BAD_REQUEST',
  FILTER_FORMAT: 'CALLGATE_ERR_FILTER_FORMAT',
  REDIS: 'CALLGATE_ERR_REDIS',
  REDIS_EVICTION: 'CALLGATE_ERR_REDIS_EVICTION',
  GENERATION_MISMATCH: 'CALLGATE_ERR_GENERATION_MISMATCH',
  CAPACITY: 'CALLGATE_ERR_CAPACITY',
  NEEDS_REDIS: 'CALLGATE_ERR_NEEDS_REDIS',
  LOCK_LOST: 'CALLGATE_ERR_LOCK_LOST',
  DASHBOARD_ASSETS: 'CALLGATE_ERR_DASHBOARD_ASSETS',
  JOURNAL_FORMAT: 'CALLGATE_ERR_JOURNAL_FORMAT',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class CallgateError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CallgateError';
    this.code = code;
  }
}

export function isCallgateError(err: unknown, code?: ErrorCode): err is CallgateError {
  return err instanceof CallgateError && (code === undefined || err.code === code);
}
