/**
 * The client side of the admin API, for `callgate refresh`, `callgate list add|remove`,
 * `callgate block|unblock` and `callgate why`: one HTTP request to a running sidecar, a line of output per result.
 */
import { hostname, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { RefreshOutcome } from '../refresh/refresh.js';
import { readingsOf } from '../numbers/normalise.js';
import { WHY_VERSION, type WhyAnswer } from '../why/answer.js';
import { renderWhy } from '../why/render.js';

type Env = Readonly<Record<string, string | undefined>>;

interface AdminTarget {
  readonly url: string;
  readonly token: string | null;
}

function target(values: { url?: string | undefined; token?: string | undefined }, env: Env): AdminTarget {
  const url = values.url ?? env['CALLGATE_ADMIN_URL'] ?? 'http://127.0.0.1:8080';
  if (!/^https?:\/\//.test(url)) throw new CallgateError(ErrorCode.CONFIG, `--url: expected http:// or https://, got ${JSON.stringify(url)}`);
  return { url: url.replace(/\/+$/, ''), token: values.token ?? env['CALLGATE_ADMIN_TOKEN'] ?? null };
}

function parse<T extends Record<string, { type: 'string' | 'boolean' }>>(argv: readonly string[], options: T): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (err) {
    throw new CallgateError(ErrorCode.CONFIG, (err as Error).message);
  }
}

async function post(t: AdminTarget, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return request(t, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
}

async function request(t: AdminTarget, path: string, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; json: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(`${t.url}${path}`, { ...init, headers: { ...init.headers, ...(t.token === null ? {} : { authorization: `Bearer ${t.token}` }) } });
  } catch (err) {
    throw new CallgateError(ErrorCode.UNREACHABLE, `cannot reach ${t.url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { error: { code: 'http', message: text.slice(0, 200) } };
  }
  return { status: res.status, json };
}

function describeOutcome(o: RefreshOutcome): string {
  const secs = `${(o.durationMs / 1000).toFixed(1)} s`;
  switch (o.status) {
    case 'loaded': {
      const bad = o.badLines ? `, ${o.badLines} bad lines (first: ${(o.badLineNumbers ?? []).join(', ')})` : '';
      const forced = o.overridden?.length ? ` [forced over: ${o.overridden.join(', ')}]` : '';
      return `${o.list}: loaded generation ${o.generation}: ${o.unique} numbers (${o.duplicates ?? 0} duplicates${bad}) in ${secs}${forced}`;
    }
    case 'unchanged':
      return `${o.list}: unchanged (generation ${o.generation ?? '-'}) in ${secs}`;
    case 'refused':
      return `${o.list}: refused (${o.code}): ${o.message}`;
    case 'busy':
      return `${o.list}: busy: ${o.message}`;
    case 'failed':
      return `${o.list}: failed (${o.code}): ${o.message}`;
    default: {
      const never: never = o.status;
      return `${o.list}: ${String(never)}`;
    }
  }
}

function printError(json: Record<string, unknown>, status: number): number {
  const e = json['error'] as { code?: string; message?: string } | undefined;
  process.stderr.write(`callgate: ${e?.message ?? `HTTP ${status}`} [${e?.code ?? status}]\n`);
  return 1;
}

/** `callgate refresh [--url U] [--token T] [--list NAME] [--force]`: 0 when every list loaded or was unchanged. */
export async function runRefreshCommand(argv: readonly string[], env: Env): Promise<number> {
  const { values, positionals } = parse(argv, { url: { type: 'string' }, token: { type: 'string' }, list: { type: 'string' }, force: { type: 'boolean' } });
  if (positionals.length > 0) throw new CallgateError(ErrorCode.CONFIG, `refresh takes no positional arguments, got ${JSON.stringify(positionals)}`);
  const t = target(values as { url?: string; token?: string }, env);
  const q = new URLSearchParams();
  if (typeof values['list'] === 'string') q.set('list', values['list']);
  if (values['force'] === true) q.set('force', 'true');
  const { status, json } = await post(t, `/admin/refresh${q.size > 0 ? `?${q.toString()}` : ''}`, {});
  const outcomes = json['outcomes'] as RefreshOutcome[] | undefined;
  if (outcomes === undefined) return printError(json, status);
  for (const o of outcomes) process.stdout.write(`${describeOutcome(o)}\n`);
  return outcomes.every((o) => o.status === 'loaded' || o.status === 'unchanged') ? 0 : 1;
}

function defaultWho(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `cli@${hostname()}`;
  }
}

/** `callgate list add|remove NAME NUMBER…` and `callgate block|unblock NUMBER…`. */
export async function runChangeCommand(kind: 'list' | 'block' | 'unblock', argv: readonly string[], env: Env): Promise<number> {
  const { values, positionals } = parse(argv, { url: { type: 'string' }, token: { type: 'string' }, who: { type: 'string' } });
  const t = target(values as { url?: string; token?: string }, env);
  const who = (values['who'] as string | undefined) ?? defaultWho();
  let path: string;
  let body: Record<string, unknown>;
  if (kind === 'list') {
    const [op, list, ...numbers] = positionals;
    if ((op !== 'add' && op !== 'remove') || list === undefined || numbers.length === 0) {
      throw new CallgateError(ErrorCode.CONFIG, 'usage: callgate list add|remove NAME NUMBER…');
    }
    path = `/admin/lists/${op}`;
    body = { list, numbers, who };
  } else {
    if (positionals.length === 0) throw new CallgateError(ErrorCode.CONFIG, `usage: callgate ${kind} NUMBER…`);
    path = `/admin/${kind}`;
    body = { numbers: positionals, who };
  }
  const { status, json } = await post(t, path, body);
  if (status !== 200) return printError(json, status);
  const still = json['stillListed'] as { generation?: unknown; numbers?: unknown } | undefined;
  const kept = Array.isArray(still?.numbers) ? still.numbers.map(String) : [];
  const changed = Number(json['count']) - kept.length;
  if (changed > 0 || kept.length === 0) {
    process.stdout.write(`${String(json['list'])}: ${String(json['op'])} ${changed} number(s) at ${String(json['at'])} by ${who}\n`);
  }
  if (json['replicated'] === false) {
    // Applied, and blocked by the sidecar that took it; a fail-over before a replica has it could lose it elsewhere.
    process.stdout.write(`${String(json['list'])}: not replicated yet: no Redis replica acknowledged it in time; the sidecar keeps it and re-publishes it until one does\n`);
  }
  if (kept.length === 0) return 0;
  // A remove withdraws intraday additions only: the file's numbers stay listed until a file without them is loaded.
  process.stdout.write(`${String(json['list'])}: ${kept.length} number(s) still listed by file generation ${String(still?.generation)}, not removed: ${kept.join(', ')}\n`);
  return 1;
}

/**
 * `callgate why NUMBER [--url U] [--token T] [--who W] [--json]`: why a running sidecar blocks or allows a number
 * (GET /v1/why). 0 when answered (whatever the verdicts); any failure is an error (exit 2, its code).
 */
export async function runWhyCommand(argv: readonly string[], env: Env): Promise<number> {
  const { values, positionals } = parse(argv, { url: { type: 'string' }, token: { type: 'string' }, who: { type: 'string' }, json: { type: 'boolean' } });
  const [number, ...extra] = positionals;
  if (number === undefined || extra.length > 0) throw new CallgateError(ErrorCode.CONFIG, 'usage: callgate why NUMBER [--url U] [--token T] [--who W] [--json]');
  // Refused here too, without a round trip; the message does not repeat the input.
  if (readingsOf(number).length === 0) throw new CallgateError(ErrorCode.BAD_REQUEST, 'not a valid phone number');
  const t = target(values as { url?: string; token?: string }, env);
  const q = new URLSearchParams({ number, who: (values['who'] as string | undefined) ?? defaultWho() });
  const { status, json } = await request(t, `/v1/why?${q.toString()}`, { method: 'GET' });
  if (status !== 200) {
    const e = json['error'] as { code?: string; message?: string } | undefined;
    const code = status === 400 ? ErrorCode.BAD_REQUEST : status === 401 || status === 403 ? ErrorCode.UNAUTHORIZED : ErrorCode.INTERNAL;
    throw new CallgateError(code, `${e?.message ?? `HTTP ${status}`} (${e?.code ?? status})`);
  }
  if (json['v'] !== WHY_VERSION) throw new CallgateError(ErrorCode.FORMAT, `the sidecar answered why format ${JSON.stringify(json['v'])}; this callgate reads ${WHY_VERSION}: use the same version`);
  process.stdout.write(values['json'] === true ? `${JSON.stringify(json)}\n` : renderWhy(json as unknown as WhyAnswer));
  return 0;
}
