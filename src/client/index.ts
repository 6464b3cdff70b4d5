/**
 * `callgate/client`: the package's client entry (package.json "exports"). The one file that gathers the
 * client's public names — the client itself and the types it answers with, which are the server's own
 * (check/verdict.ts, check/protocol.ts), so a dialer compiles against the same definitions the gate uses.
 */
export { CallgateClient, type CheckOptions, type ClientOptions, type ClientState, type ClientStats } from './client.js';
export type { BatchEntry, CheckAnswer, ClientError, ClientErrorCode, OutcomeAnswer } from './replies.js';
export type { BackoffOptions } from './backoff.js';
export { Reason, type FixedReason, type Verdict } from '../check/verdict.js';
export type { CallOutcome } from '../check/protocol.js';
export { CallgateError, ErrorCode, isCallgateError } from '../core/errors.js';
