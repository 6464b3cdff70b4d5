/**
 * The HTTP doors of the check (issue 14 item 1), for dialers that can only call HTTP (Asterisk `CURL()`,
 * FreeSWITCH `mod_curl`, commercial dialers, Kamailio's `http_client`):
 *   GET  /v1/check?number=…&campaign=…[&dial=1]   one check
 *   POST /v1/check                                 a JSON frame (one check or a batch), or form fields
 *   POST /v1/outcome (GET too, for dispo hooks)    a call's disposition (refused / answered / no_answer)
 *   POST /v1/optout                                an agent's "do not call me": can only ADD to the block list
 * Every check and outcome becomes the very Request a socket frame decodes to (a JSON body through
 * check/protocol.ts decodeRequest; parameters checked against its limits, with its messages) and goes
 * through the socket's request handler (check/request-handler.ts):
 * same verdicts, same rules, same audit records, same stats. The JSON reply is the socket's reply
 * without its `id` (unless the request gave one); `Accept: text/plain` (or `format=text`) answers
 * `allow` or `block REASON`, status 200 for both, and a refused request `error CODE` with a 4xx.
 * Queries are parsed by check/http-query.ts: a literal `+` stays a plus. The site guard
 * (server/site-guard.ts) runs before these routes like any other.
 */
import type { IncomingMessage } from 'node:http';
import { sameSecret, isLoopback } from '../admin/auth.js';
import { campaignProblem, decodeRequest, encodeCheckFields, MAX_NUMBER_LENGTH, OUTCOMES, type CallOutcome, type ProtocolLimits, type Request } from '../check/protocol.js';
import { scanFrame, NOT_OBJECT, TOO_DEEP } from '../check/frame-shape.js';
import { decodeComponent, flagValue, parseQuery, rawQueryOf, type QueryError } from '../check/http-query.js';
import type { Logger } from '../core/logger.js';
import type { SingleCheck } from '../check/request-handler.js';
import type { CheckResult } from '../check/verdict.js';
import { HttpError, type HttpReply, type PlainRouteHandler } from './http-server.js';

/** Answers one decoded request with an encoded reply (the socket's handler). Must not throw. */
export type CheckHandler = (request: Request) => string | Promise<string>;

/** Adds numbers to the block list through the admin code path (admin/routes.ts); throws HttpError when refused. */
export type OptOutAdder = (numbers: readonly string[], who: string) => Promise<unknown>;

export interface HttpCheckDeps {
  readonly handle: CheckHandler;
  /** One check from parameters (GET, a form): the handler's own decision and bookkeeping, its result encoded here. */
  readonly check: SingleCheck;
  readonly limits: ProtocolLimits;
  /** Largest request body: the socket's largest frame (maxPayloadBytes). */
  readonly maxBodyBytes: number;
  /** When set, checks and outcomes need it (`Authorization: Bearer …` or `token=`); null: open, like the socket. */
  readonly checkToken: string | null;
  /** When set, /v1/optout needs it (or the admin token); with neither, loopback clients only. */
  readonly optoutToken: string | null;
  readonly adminToken: string | null;
  readonly optOut: OptOutAdder;
  readonly logger: Logger;
}

/** The id given to a request that names none: stripped from its reply. */
const NO_ID = 0;
const NO_ID_PREFIX = `{"id":${NO_ID},`;

const CHECK_PARAMS: ReadonlySet<string> = new Set(['number', 'campaign', 'dial', 'format', 'token']);
const OUTCOME_PARAMS: ReadonlySet<string> = new Set(['number', 'campaign', 'outcome', 'format', 'token']);
const OPTOUT_PARAMS: ReadonlySet<string> = new Set(['number', 'who', 'format', 'token']);
/** Fields a JSON body may carry, per door (a frame's fields; `op`, if given, must be the door's). */
const CHECK_FIELDS: ReadonlySet<string> = new Set(['id', 'op', 'number', 'numbers', 'campaign', 'dial']);
const OUTCOME_FIELDS: ReadonlySet<string> = new Set(['id', 'op', 'number', 'campaign', 'outcome']);
const OPTOUT_FIELDS: ReadonlySet<string> = new Set(['number', 'who']);
/** Query parameters beside a JSON body. */
const QUERY_OF_JSON: ReadonlySet<string> = new Set(['format', 'token']);

const MAX_WHO_LENGTH = 128;

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

/** How a door answers: JSON (the socket's replies) or one plain line for dialplans. */
type Format = 'json' | 'text';

function queryError(e: QueryError): HttpError {
  return new HttpError(e.code === 'query_too_long' ? 414 : 400, e.code, e.message);
}

/** `Accept` asking for text/plain and not for JSON (curl's and libcurl's default `*\/*` is JSON). */
export function acceptsText(accept: string | undefined): boolean {
  // Shorter than "text/plain" (curl's `*/*`): nothing to lower-case.
  if (accept === undefined || accept.length < 10) return false;
  const a = accept.toLowerCase();
  return a.includes('text/plain') && !a.includes('application/json');
}

function isJsonType(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/json\s*(;|$)/i.test(contentType.trim());
}

function isFormType(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType.trim());
}

function bearerOf(req: IncomingMessage): string | null {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return m?.[1]?.trim() ?? null;
}

/** Whether a request carries `token` (header or `token=` parameter) or, when given, `alsoToken`. */
function presents(req: IncomingMessage, param: string | undefined, token: string, alsoToken: string | null = null): boolean {
  const given = bearerOf(req) ?? param ?? null;
  if (given === null) return false;
  return sameSecret(given, token) || (alsoToken !== null && sameSecret(given, alsoToken));
}

/** Whether a socket upgrade may open a check socket: no check token configured, or it is given. */
export function mayOpenCheckSocket(req: IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  // Only `token` is read (as the doors read it: `+` stays a plus); the socket URL's other parameters
  // were always ignored, and still are. A token given twice is no token.
  const tokens = rawQueryOf(req.url ?? '/')
    .split('&')
    .filter((piece) => piece.startsWith('token='))
    .map((piece) => decodeComponent(piece.slice('token='.length)));
  const param = tokens.length === 1 ? (tokens[0] ?? undefined) : undefined;
  return presents(req, param, token);
}

/** Reads a request body of at most `limitBytes` as UTF-8 text. */
export async function readBodyText(req: IncomingMessage, limitBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limitBytes) throw new HttpError(413, 'payload_too_large', `request body of ${declared} bytes; at most ${limitBytes} (--max-payload-bytes)`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new HttpError(413, 'payload_too_large', `request body over ${limitBytes} bytes (--max-payload-bytes)`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A JSON body as a flat object with only `fields`: the frame-shape scan first (JSON.parse only ever
 * sees a flat object, check/frame-shape.ts), a key named twice refused, an unknown key refused.
 */
function parseBodyObject(text: string, fields: ReadonlySet<string>): Record<string, unknown> {
  const keyCount = scanFrame(text);
  if (keyCount === NOT_OBJECT) throw new HttpError(400, 'bad_json', 'request body must be a JSON object');
  if (keyCount === TOO_DEEP) throw new HttpError(400, 'bad_json', 'request body must be a flat JSON object (a batch: "numbers", a flat array of strings)');
  if (keyCount < 0) throw new HttpError(400, 'bad_json', 'request body has too many fields');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'bad_json', 'request body is not valid JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, 'bad_json', 'request body must be a JSON object');
  const m = v as Record<string, unknown>;
  if (Object.keys(m).length !== keyCount) throw new HttpError(400, 'duplicate_field', 'a field of the request body appears more than once');
  for (const k of Object.keys(m)) if (!fields.has(k)) throw new HttpError(400, 'unknown_field', `unknown field ${JSON.stringify(k.slice(0, 40))}; expected one of ${[...fields].join(', ')}`);
  return m;
}

/** Parameters of a query string and, for a form body, of the body (parsed together: a name given in both is a duplicate). */
function paramsOf(req: IncomingMessage, formBody: string, allowed: ReadonlySet<string>): ReadonlyMap<string, string> {
  const query = rawQueryOf(req.url ?? '/');
  const all = query.length === 0 ? formBody : formBody.length === 0 ? query : `${query}&${formBody}`;
  const parsed = parseQuery(all, allowed);
  if (!parsed.ok) throw queryError(parsed.error);
  return parsed.params;
}

function formatOf(req: IncomingMessage, params: ReadonlyMap<string, string> | null): Format {
  const f = params?.get('format');
  if (f === 'text') return 'text';
  if (f === 'json') return 'json';
  if (f !== undefined) throw new HttpError(400, 'bad_request', '"format" must be "text" or "json"');
  return acceptsText(req.headers.accept) ? 'text' : 'json';
}

/** The request's format read before its parameters are (an error in them is answered in it too). */
function roughFormatOf(req: IncomingMessage): Format {
  return acceptsText(req.headers.accept) || /(^|&)format=text(&|$)/.test(rawQueryOf(req.url ?? '/')) ? 'text' : 'json';
}

/** The frame a JSON body or parameters stand for, decoded by the socket's decoder (same limits). */
function decode(frame: Record<string, unknown>, limits: ProtocolLimits): Request {
  const decoded = decodeRequest(JSON.stringify(frame), limits);
  if (!decoded.ok) throw new HttpError(400, 'bad_request', decoded.message);
  return decoded.request;
}

/**
 * The Request that query/form parameters stand for, validated with the socket decoder's limits and
 * messages (check/protocol.ts): built directly, not through a JSON frame, because this is every HTTP
 * check's path and the round trip through JSON cost as much as the check itself.
 */
function requestOfParams(op: 'check' | 'outcome', params: ReadonlyMap<string, string>): Request {
  const number = params.get('number');
  if (number === undefined) throw new HttpError(400, 'missing_parameter', '"number" is required');
  if (number.length > MAX_NUMBER_LENGTH) throw new HttpError(400, 'bad_request', `"number" must be a string of at most ${MAX_NUMBER_LENGTH} characters`);
  const given = params.get('campaign');
  if (given !== undefined) {
    const problem = campaignProblem(given);
    if (problem !== null) throw new HttpError(400, 'bad_request', problem);
  }
  const campaign = given ?? null;
  if (op === 'check') {
    const dial = params.get('dial');
    const flag = dial === undefined ? false : flagValue(dial);
    if (flag === null) throw new HttpError(400, 'bad_request', '"dial" must be 1 or 0 (true/false, yes/no)');
    return { op: 'check', id: NO_ID, number, campaign, dial: flag };
  }
  const outcome = params.get('outcome');
  if (outcome === undefined) throw new HttpError(400, 'missing_parameter', '"outcome" is required');
  if (!OUTCOMES.has(outcome)) throw new HttpError(400, 'bad_request', '"outcome" must be "no_answer", "answered" or "refused"');
  return { op: 'outcome', id: NO_ID, number, campaign, outcome: outcome as CallOutcome };
}

/** A JSON body as a frame: `op` is the door's, and an id is added when none is given (and stripped from the reply). */
function frameOfBody(op: 'check' | 'outcome', body: Record<string, unknown>): { frame: Record<string, unknown>; hasId: boolean } {
  if (body['op'] !== undefined && body['op'] !== op) throw new HttpError(400, 'bad_request', `"op" must be "${op}" at this door (or left out)`);
  const hasId = body['id'] !== undefined;
  return { frame: { ...body, op, id: hasId ? body['id'] : NO_ID }, hasId };
}

function stripId(reply: string, hasId: boolean): string {
  return !hasId && reply.startsWith(NO_ID_PREFIX) ? `{${reply.slice(NO_ID_PREFIX.length)}` : reply;
}

/** A reply's error, parsed (rare: only error replies are parsed whole). */
interface ErrorReply {
  readonly error?: { readonly code?: unknown };
}

/**
 * The string value of a top-level `"name":"…"` of a reply encoded by check/protocol.ts, read without
 * parsing it: verdicts and reasons are reason words or validated list names, never escaped.
 */
function wordOf(reply: string, name: string): string | null {
  const key = `"${name}":"`;
  const at = reply.indexOf(key);
  if (at < 0) return null;
  const from = at + key.length;
  const to = reply.indexOf('"', from);
  return to < 0 ? null : reply.slice(from, to);
}

/**
 * The reply of one request, in the request's format; an error reply becomes a 4xx (5xx for internal).
 * A batch's reply is JSON only, and carries no verdict headers (it holds many).
 */
function answer(reply: string, op: Request['op'], hasId: boolean, format: Format): HttpReply {
  if (reply.includes('"error":{')) {
    const e = (JSON.parse(reply) as ErrorReply).error;
    const code = typeof e?.code === 'string' ? e.code : 'internal';
    const status = code === 'internal' ? 500 : code === 'overloaded' ? 503 : 400;
    return format === 'text' ? textError(status, code) : { status, body: stripId(reply, hasId), contentType: JSON_TYPE };
  }
  if (op === 'batch') return { status: 200, body: stripId(reply, hasId), contentType: JSON_TYPE };
  if (op === 'outcome') return format === 'text' ? { status: 200, body: 'ok', contentType: TEXT_TYPE } : { status: 200, body: stripId(reply, hasId), contentType: JSON_TYPE };
  const verdict = wordOf(reply, 'verdict');
  const reason = wordOf(reply, 'reason') ?? '';
  // Anything but a well-formed allow is a block (never a wrong allow, even from a malformed reply).
  const allowed = verdict === 'allow';
  const headers = { 'x-callgate-verdict': allowed ? 'allow' : 'block', 'x-callgate-reason': reason };
  if (format === 'json') return { status: 200, body: stripId(reply, hasId), contentType: JSON_TYPE, headers };
  return { status: 200, body: allowed ? 'allow' : `block ${reason}`, contentType: TEXT_TYPE, headers };
}

/** The verdict headers of each (verdict, reason), made once: a check's reply then allocates none. */
const verdictHeaders = new Map<string, Readonly<Record<string, string>>>();

function headersOf(allowed: boolean, reason: string): Readonly<Record<string, string>> {
  const key = allowed ? `a${reason}` : `b${reason}`;
  let h = verdictHeaders.get(key);
  if (h === undefined) {
    h = Object.freeze({ 'x-callgate-verdict': allowed ? 'allow' : 'block', 'x-callgate-reason': reason });
    // Reasons are reason words and list names, a few dozen at most; the bound is a safeguard.
    if (verdictHeaders.size >= 1024) verdictHeaders.clear();
    verdictHeaders.set(key, h);
  }
  return h;
}

/**
 * A single check's reply from its result: what answer() makes of the socket's reply to the same check
 * without an id (the same JSON bytes, check/protocol.ts encodeCheckFields), without encoding and re-reading it.
 */
function checkAnswer(r: CheckResult, format: Format): HttpReply {
  const allowed = r.verdict === 'allow';
  const headers = headersOf(allowed, r.reason);
  if (format === 'json') return { status: 200, body: `{${encodeCheckFields(r)}`, contentType: JSON_TYPE, headers };
  return { status: 200, body: allowed ? 'allow' : `block ${r.reason}`, contentType: TEXT_TYPE, headers };
}

function textError(status: number, code: string): HttpReply {
  return { status, body: `error ${code}`, contentType: TEXT_TYPE, headers: { 'x-callgate-error': code } };
}

/** A refused request, answered in the request's format. */
function refused(err: HttpError, format: Format): HttpReply {
  if (format === 'text') return textError(err.status, err.code);
  return { status: err.status, body: { error: { code: err.code, message: err.message } }, contentType: JSON_TYPE };
}

/** Methods a door does not take: answered 405 with `Allow`, not a misleading 404. */
const OTHER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export function httpCheckRoutes(deps: HttpCheckDeps): Map<string, PlainRouteHandler> {
  const { limits, logger } = deps;

  const authorise = (req: IncomingMessage, params: ReadonlyMap<string, string> | null): void => {
    if (deps.checkToken === null) return;
    if (!presents(req, params?.get('token'), deps.checkToken)) throw new HttpError(401, 'unauthorized', 'a check token is required: Authorization: Bearer … or token=…');
  };

  const fail = (req: IncomingMessage, err: unknown): HttpReply => {
    // Refusals, the admin code path's too (opt-out), keep their status and code.
    if (err instanceof HttpError) return refused(err, roughFormatOf(req));
    logger.error({ err }, 'http check door failed');
    return refused(new HttpError(500, 'internal', 'internal error'), roughFormatOf(req));
  };

  /** Runs a door, answering any refusal in the request's format; synchronous when the check is (a Bloom miss). */
  const door =
    (run: (req: IncomingMessage) => HttpReply | Promise<HttpReply>): PlainRouteHandler =>
    (req): HttpReply | Promise<HttpReply> => {
      try {
        const r = run(req);
        return r instanceof Promise ? r.catch((err: unknown) => fail(req, err)) : r;
      } catch (err) {
        return fail(req, err);
      }
    };

  const run = (request: Request, hasId: boolean, format: Format): HttpReply | Promise<HttpReply> => {
    if (request.op === 'check' && !hasId) {
      // A single check without an id (every parameter check): its result, answered without encoding the socket's frame.
      const r = deps.check(request.number, request.campaign, request.dial);
      return 'then' in r ? r.then((c) => checkAnswer(c, format)) : checkAnswer(r, format);
    }
    const reply = deps.handle(request);
    return typeof reply === 'string' ? answer(reply, request.op, hasId, format) : reply.then((r) => answer(r, request.op, hasId, format));
  };

  const get = (op: 'check' | 'outcome', allowed: ReadonlySet<string>): PlainRouteHandler =>
    door((req) => {
      const params = paramsOf(req, '', allowed);
      const format = formatOf(req, params);
      authorise(req, params);
      return run(requestOfParams(op, params), false, format);
    });

  /** POST with a JSON frame (one check, a batch, an outcome) or form fields (as in the query). */
  const post = (op: 'check' | 'outcome', params: ReadonlySet<string>, fields: ReadonlySet<string>) =>
    door(async (req) => {
      const contentType = req.headers['content-type'];
      const json = isJsonType(contentType);
      if (!json && !isFormType(contentType) && contentType !== undefined) {
        throw new HttpError(415, 'unsupported_media_type', 'send application/json (a frame) or application/x-www-form-urlencoded (the query\'s parameters)');
      }
      if (!json) {
        const p = paramsOf(req, await readBodyText(req, deps.maxBodyBytes), params);
        const format = formatOf(req, p);
        authorise(req, p);
        return run(requestOfParams(op, p), false, format);
      }
      // A JSON body: parameters in the query are only format and token, checked before the body is read.
      const p = paramsOf(req, '', QUERY_OF_JSON);
      const format = formatOf(req, p);
      authorise(req, p);
      const body = await readBodyText(req, deps.maxBodyBytes);
      const { frame, hasId } = frameOfBody(op, parseBodyObject(body, fields));
      const request = decode(frame, limits);
      // A batch has no one-line answer: its reply is JSON whatever was asked (answer()).
      return run(request, hasId, format);
    });

  const optOut = door(async (req) => {
    const contentType = req.headers['content-type'];
    const json = isJsonType(contentType);
    if (!json && !isFormType(contentType) && contentType !== undefined) {
      throw new HttpError(415, 'unsupported_media_type', 'send application/json or application/x-www-form-urlencoded');
    }
    const body = await readBodyText(req, Math.min(deps.maxBodyBytes, 64 * 1024));
    let number: unknown;
    let who: unknown;
    let format: Format;
    let token: string | undefined;
    if (json) {
      const p = paramsOf(req, '', QUERY_OF_JSON);
      format = formatOf(req, p);
      token = p.get('token');
      const b = parseBodyObject(body, OPTOUT_FIELDS);
      number = b['number'];
      who = b['who'];
    } else {
      const p = paramsOf(req, body, OPTOUT_PARAMS);
      format = formatOf(req, p);
      token = p.get('token');
      number = p.get('number');
      who = p.get('who');
    }
    // Its own token (or the admin's); with neither configured, loopback clients only, like admin operations.
    if (deps.optoutToken === null && deps.adminToken === null) {
      if (!isLoopback(req.socket.remoteAddress)) throw new HttpError(403, 'forbidden', 'opt-outs are accepted from loopback only when no opt-out or admin token is configured');
    } else {
      const ok = (deps.optoutToken !== null && presents(req, token, deps.optoutToken, deps.adminToken)) || (deps.adminToken !== null && presents(req, token, deps.adminToken));
      if (!ok) throw new HttpError(401, 'unauthorized', 'an opt-out token is required: Authorization: Bearer … or token=…');
    }
    if (typeof number !== 'string' || number.length === 0 || number.length > 64) throw new HttpError(400, 'bad_request', '"number" must be a string of 1 to 64 characters');
    if (who !== undefined && (typeof who !== 'string' || who.length === 0 || who.length > MAX_WHO_LENGTH || /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(who))) {
      throw new HttpError(400, 'bad_request', `"who" must be a string of 1 to ${MAX_WHO_LENGTH} characters without control characters`);
    }
    const outcome = await deps.optOut([number], typeof who === 'string' ? who : 'optout-api');
    return format === 'text' ? { status: 200, body: 'ok', contentType: TEXT_TYPE } : { status: 200, body: outcome };
  });

  const routes = new Map<string, PlainRouteHandler>([
    ['GET /v1/check', get('check', CHECK_PARAMS)],
    ['POST /v1/check', post('check', CHECK_PARAMS, CHECK_FIELDS)],
    ['POST /v1/outcome', post('outcome', OUTCOME_PARAMS, OUTCOME_FIELDS)],
    // For dispo hooks that can only GET (VICIdial's Dispo Call URL): an outcome can only ever block more
    // (a refusal, an attempt counted), so a forged one cannot make a call allowed.
    ['GET /v1/outcome', get('outcome', OUTCOME_PARAMS)],
    ['POST /v1/optout', optOut],
  ]);
  for (const path of ['/v1/check', '/v1/outcome', '/v1/optout']) {
    const allow = OTHER_METHODS.filter((m) => routes.has(`${m} ${path}`));
    for (const m of OTHER_METHODS) {
      if (routes.has(`${m} ${path}`)) continue;
      routes.set(`${m} ${path}`, (req) => {
        const reply = refused(new HttpError(405, 'method_not_allowed', `${path} takes ${allow.join(', ')}`), roughFormatOf(req));
        return { ...reply, headers: { ...reply.headers, allow: allow.join(', ') } };
      });
    }
  }
  return routes;
}
