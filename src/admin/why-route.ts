/**
 * `GET /v1/why?number=…[&who=…]`: why a number is blocked or allowed (why/gather.ts), for operators. An admin
 * operation (admin/auth.ts: the admin token when one is configured, loopback otherwise), since the answer shows
 * consent proofs and who recorded what. Each answer is itself recorded in the audit trail (a `why` record,
 * audit/record.ts) and is refused when that record cannot be taken; the log line carries no number.
 */
import { authoriseAdmin } from './auth.js';
import { HttpError, type HttpReply, type RouteHandler } from '../server/http-server.js';
import type { AuditSink } from '../check/request-handler.js';
import { MAX_NUMBER_LENGTH } from '../check/protocol.js';
import { WHY_RECORD_VERSION } from '../audit/record.js';
import type { Logger } from '../core/logger.js';
import { gatherWhy, type WhyDeps } from '../why/gather.js';

export interface WhyRouteDeps {
  readonly why: WhyDeps;
  readonly adminToken: string | null;
  readonly audit: AuditSink | null;
  readonly logger: Logger;
}

const MAX_WHO_LENGTH = 128;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export function whyRoutes(deps: WhyRouteDeps): Map<string, RouteHandler> {
  const why: RouteHandler = async (req, url): Promise<HttpReply> => {
    const d = authoriseAdmin(req, deps.adminToken);
    if (!d.ok) throw new HttpError(d.status, d.status === 401 ? 'unauthorized' : 'forbidden', d.message);
    const number = url.searchParams.get('number');
    if (number === null || number.length === 0 || number.length > MAX_NUMBER_LENGTH) {
      throw new HttpError(400, 'bad_request', `"number" must be a string of 1 to ${MAX_NUMBER_LENGTH} characters`);
    }
    const who = url.searchParams.get('who') ?? 'admin-api';
    if (who.length === 0 || who.length > MAX_WHO_LENGTH || CONTROL.test(who)) {
      throw new HttpError(400, 'bad_request', `"who" must be a string of 1 to ${MAX_WHO_LENGTH} characters without control characters`);
    }
    const answer = await gatherWhy(deps.why, number);
    // The message never repeats the input: it may be a number.
    if (answer === null) throw new HttpError(400, 'bad_request', '"number" is not a valid phone number');
    const verdicts = Object.fromEntries(answer.verdicts.map((v) => [v.campaign ?? '(default)', `${v.verdict}:${v.reason}`]));
    const readings = answer.readings.map((r) => r.number);
    if (deps.audit !== null && !deps.audit.write({ type: 'why', v: WHY_RECORD_VERSION, at: answer.at, readings, who, verdicts })) {
      // Who looked at whose consent is part of the proof: no record, no answer.
      throw new HttpError(503, 'audit_unavailable', 'the audit trail cannot record this question now; nothing was answered');
    }
    deps.logger.info({ who, readings: readings.length, campaigns: answer.verdicts.length, audited: deps.audit !== null }, 'why');
    return { status: 200, body: answer };
  };
  return new Map<string, RouteHandler>([['GET /v1/why', why]]);
}
