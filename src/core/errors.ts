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
  /** The sidecar refused the CLI's admin request: no or a wrong admin token (HTTP 401), or not from loopback (403). */
  UNAUTHORIZED: 'CALLGATE_ERR_UNAUTHORIZED',
  /** The CLI could not reach the sidecar it was pointed at. */
  UNREACHABLE: 'CALLGATE_ERR_UNREACHABLE',
  /**
   * The client got no verdict from the gate (timeout, lost connection, full queue, closed client): thrown
   * only when the caller asked for throws (`throwOnUnavailable`); otherwise the check answers block.
   */
  GATE_UNAVAILABLE: 'CALLGATE_ERR_GATE_UNAVAILABLE',
  /** A failure that is no CallgateError (a bug or an environment fault): still one coded line, never a stack. */
  INTERNAL: 'CALLGATE_ERR_INTERNAL',
  /** A list source that looks cut short: no final newline, changed while read, a short HTTP body. */
  LIST_PARTIAL: 'CALLGATE_ERR_LIST_PARTIAL',
  /** A list file still being written: it did not stay unchanged for the settle time. */
  LIST_UNSETTLED: 'CALLGATE_ERR_LIST_UNSETTLED',
  /** A list source whose manifest is unreadable or does not match it (row count, sha256). */
  LIST_MANIFEST: 'CALLGATE_ERR_LIST_MANIFEST',
  /** A list source over its decompressed-size cap. */
  LIST_TOO_LARGE: 'CALLGATE_ERR_LIST_TOO_LARGE',
  /** A list line over the line-length cap. */
  LIST_LINE_TOO_LONG: 'CALLGATE_ERR_LIST_LINE_TOO_LONG',
  /** The durable record of installed lists is unreadable or of a newer format. */
  LIST_RECORD: 'CALLGATE_ERR_LIST_RECORD',
  /** A stored record (marker, stream entry, fleet key) of a newer format than this build reads. */
  FORMAT: 'CALLGATE_ERR_FORMAT',
  LIST_KIND: 'CALLGATE_ERR_LIST_KIND',
  JOURNAL_FORMAT: 'CALLGATE_ERR_JOURNAL_FORMAT',
  /** A record handed to the intraday journal after it was closed (shutting down): it was not written. */
  JOURNAL_CLOSED: 'CALLGATE_ERR_JOURNAL_CLOSED',
  /** `callgate scrub`: a lead file it cannot scrub as a whole (unreadable, no phone column found, a --column it lacks). */
  SCRUB_INPUT: 'CALLGATE_ERR_SCRUB_INPUT',
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
