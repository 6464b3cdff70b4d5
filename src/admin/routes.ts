/**
 * Admin operations over HTTP: refresh now, intraday list changes. Each needs the admin token when
 * one is configured, and comes from loopback otherwise (admin/auth.ts).
 */
import type { IncomingMessage } from 'node:http';
import { authoriseAdmin } from './auth.js';
import { HttpError, readJsonBody, type HttpReply, type RouteHandler } from '../server/http-server.js';
import { listedByGeneration } from '../lists/file-listed.js';
import type { ListBackend } from '../backends/list-backend.js';
import type { ListRegistry } from '../lists/registry.js';
import type { Logger } from '../core/logger.js';
import { readingsOf } from '../numbers/normalise.js';
import { e164ToKey, type NumberKey } from '../numbers/number-key.js';
import type { RefreshOutcome } from '../refresh/refresh.js';

export interface AdminDeps {
  readonly registry: ListRegistry;
  readonly backend: ListBackend;
  readonly adminToken: string | null;
  /** Target of `block` / `unblock`: a deny-list fed by intraday changes; null when none is configured. */
  readonly blockList: string | null;
  readonly logger: Logger;
  /** Called after each refresh (e.g. to re-evaluate freshness alerts). */
  readonly afterRefresh?: () => void;
}

const MAX_CHANGE_NUMBERS = 10_000;

/**
 * A JSON content type is required: a browser page may POST `text/plain` cross-site without a
 * preflight, never `application/json` (issue 12 item 4).
 */
function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/json\s*(;|$)/i.test(contentType.trim());
}

function guard(req: IncomingMessage, token: string | null): void {
  if (!isJson(req.headers['content-type'])) throw new HttpError(415, 'unsupported_media_type', 'admin requests need Content-Type: application/json');
  const d = authoriseAdmin(req, token);
  if (!d.ok) throw new HttpError(d.status, d.status === 401 ? 'unauthorized' : 'forbidden', d.message);
}

function statusOf(outcomes: readonly RefreshOutcome[]): number {
  if (outcomes.some((o) => o.status === 'failed')) return 500;
  if (outcomes.some((o) => o.status === 'refused' || o.status === 'busy')) return 409;
  return 200;
}

export function adminRoutes(deps: AdminDeps): Map<string, RouteHandler> {
  const { registry, backend, logger } = deps;

  const refresh: RouteHandler = async (req, url): Promise<HttpReply> => {
    guard(req, deps.adminToken);
    const only = url.searchParams.get('list');
    const force = ['1', 'true', 'yes'].includes(url.searchParams.get('force') ?? '');
    const names = only === null ? registry.current.slots.map((s) => s.spec.name) : [only];
    if (only !== null && registry.slot(only) === undefined) throw new HttpError(404, 'unknown_list', `no list named ${only}`);
    const outcomes: RefreshOutcome[] = [];
    // One after another: two cores, and each load already uses one fully.
    for (const name of names) outcomes.push(await backend.refresher.refresh(name, { force, trigger: 'admin' }));
    deps.afterRefresh?.();
    logger.info({ lists: names, force, statuses: outcomes.map((o) => o.status) }, 'admin refresh');
    return { status: statusOf(outcomes), body: { outcomes } };
  };

  const change = (op: 'add' | 'remove', fixedList: 'block' | null): RouteHandler => async (req): Promise<HttpReply> => {
    guard(req, deps.adminToken);
    const body = await readJsonBody(req);
    const list = fixedList === null ? body['list'] : deps.blockList;
    if (typeof list !== 'string') {
      throw fixedList === null
        ? new HttpError(400, 'bad_request', '"list" must be a list name')
        : new HttpError(409, 'no_block_list', 'no default block list: configure a deny-list without a source (e.g. "internal") or --block-list');
    }
    if (registry.slot(list) === undefined) throw new HttpError(404, 'unknown_list', `no list named ${list}`);
    const numbers = body['numbers'];
    if (!Array.isArray(numbers) || numbers.length === 0 || numbers.length > MAX_CHANGE_NUMBERS || !numbers.every((n) => typeof n === 'string')) {
      throw new HttpError(400, 'bad_request', `"numbers" must be an array of 1 to ${MAX_CHANGE_NUMBERS} strings`);
    }
    const who = typeof body['who'] === 'string' && body['who'].length > 0 && body['who'].length <= 128 ? body['who'] : 'admin-api';
    return { status: 200, body: await applyChange(deps, op, list, numbers as string[], who) };
  };

  return new Map<string, RouteHandler>([
    ['POST /admin/refresh', refresh],
    ['POST /admin/lists/add', change('add', null)],
    ['POST /admin/lists/remove', change('remove', null)],
    ['POST /admin/block', change('add', 'block')],
    ['POST /admin/unblock', change('remove', 'block')],
  ]);
}

/**
 * One intraday change of a list, all or nothing (the admin routes and the HTTP opt-out door,
 * server/http-check.ts): `list` null is the default block list. Throws HttpError when refused.
 */
export async function applyChange(deps: AdminDeps, op: 'add' | 'remove', list: string | null, numbers: readonly string[], who: string): Promise<object> {
  const { registry, backend, logger } = deps;
  const name = list ?? deps.blockList;
  if (name === null) throw new HttpError(409, 'no_block_list', 'no default block list: configure a deny-list without a source (e.g. "internal") or --block-list');
  const slot = registry.slot(name);
  if (slot === undefined) throw new HttpError(404, 'unknown_list', `no list named ${name}`);
  // An input with two readings (numbers/normalise.ts rule 9) is applied to both when that can only block
  // more (a deny-list addition, an allow-list revocation), and refused when it could allow a number
  // it may not mean (a deny-list removal, an allow-list grant).
  const blocksMore = (slot.spec.kind === 'deny') === (op === 'add');
  const keys: NumberKey[] = [];
  const invalid: number[] = [];
  const ambiguous: number[] = [];
  numbers.forEach((raw, i) => {
    const readings = readingsOf(raw);
    if (readings.length === 0) invalid.push(i);
    else if (readings.length > 1 && !blocksMore) ambiguous.push(i);
    else for (const e164 of readings) keys.push(e164ToKey(e164));
  });
  // All or nothing: a half-applied opt-out batch is hard to reason about.
  if (invalid.length > 0) throw new HttpError(400, 'invalid_number', `invalid numbers at positions ${invalid.slice(0, 20).join(', ')}; nothing was changed`);
  if (ambiguous.length > 0) {
    throw new HttpError(400, 'ambiguous_number', `numbers with two readings (9 digits without + or 0) at positions ${ambiguous.slice(0, 20).join(', ')}: write them with + or their 0; nothing was changed`);
  }
  const outcome = await backend.change(op, name, keys, who);
  if (!outcome.ok) throw new HttpError(400, outcome.code, outcome.message);
  const still = op === 'remove' ? await listedByGeneration(registry.slot(name) ?? slot, keys, backend.remote) : null;
  logger.info({ list: name, op, count: keys.length, who, ...(still ? { stillListed: still.positions.length } : {}) }, 'intraday list change');
  if (still === null) return outcome;
  // The caller's own numbers, so it can say which ones the file keeps listed.
  return { ...outcome, stillListed: { generation: still.generation, numbers: still.positions.map((i) => numbers[i]) } };
}
