/**
 * The only reader of argv and `process.env` (passed in). Every option: a flag, a `CALLGATE_*` variable
 * (never generic names like REDIS_URL, so a test harness's variables never change callgate's mode),
 * a config-file key, a default. Precedence: flag > environment > config file > default.
 * The result is validated once and frozen. The options themselves (flags, variables, defaults, ranges,
 * docs) are the table in options.ts, which docs/configuration.md is generated from.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { parseRulesConfig, type RulesConfig } from './rules-config.js';
import { validateSchedule } from '../refresh/cron.js';
import { OPTIONS, type OptionDef } from './options.js';
import { type ListDefaults, type ListKind, type ListSpec, type RefreshPolicy, parseListShorthand, validateListName } from './list-spec.js';

export interface RedisConfig {
  readonly url: string;
  readonly prefix: string;
  readonly confirmTimeoutMs: number;
  readonly allowEviction: boolean;
  readonly sentinels: readonly { host: string; port: number }[] | null;
  readonly sentinelName: string;
  /** Replicas a write that matters waits for (0: none); resolved from --redis-wait-replicas or the Sentinel default. */
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
}

export interface ServeConfig {
  readonly host: string;
  readonly port: number;
  readonly lists: readonly ListSpec[];
  readonly falsePositiveRate: number;
  readonly maxPayloadBytes: number;
  readonly maxInFlight: number;
  readonly maxInFlightBytes: number;
  readonly maxConnections: number;
  /** TCP connections on the port at most, every kind (already raised to its floor, socketCap). */
  readonly maxSockets: number;
  readonly pingIntervalMs: number;
  /** Extra host names accepted in the Host header (lower case, without port). */
  readonly allowedHosts: readonly string[];
  readonly maxBatchSize: number;
  readonly batchSliceSize: number;
  readonly shutdownGraceMs: number;
  readonly logLevel: string;
  readonly instanceId: string;
  readonly redis: RedisConfig | null;
  readonly adminToken: string | null;
  readonly journalPath: string;
  readonly blockList: string | null;
  readonly statsToken: string | null;
  /** The check doors' token (socket and HTTP); null: open. */
  readonly checkToken: string | null;
  /** POST /v1/optout's token; null: the admin token, else loopback only. */
  readonly optoutToken: string | null;
  readonly stats: boolean;
  readonly rules: RulesConfig;
  /** null: no audit trail. */
  readonly auditDir: string | null;
  readonly auditRetentionDays: number;
  readonly auditMaxPendingBytes: number;
  /** The unconfirmed_rate alert: share over which it is raised, its window, the least unconfirmed count. */
  readonly unconfirmedAlertRatio: number;
  readonly unconfirmedAlertWindowMs: number;
  readonly unconfirmedAlertMinCount: number;
  /** Applied to lists discovered in Redis (no configuration entry of their own). */
  readonly listDefaults: ListDefaults;
  /** Redis mode: clock drift (ms) that raises the clock_drift alert; 0 = off. */
  readonly clockDriftAlertMs: number;
  /** Backoff of the retries of a list that is not loaded. */
  readonly loadRetry: { readonly minMs: number; readonly maxMs: number };
}

type Raw = Record<string, string | number | boolean | null>;

function configError(message: string): CallgateError {
  return new CallgateError(ErrorCode.CONFIG, message);
}

function coerce(def: OptionDef, value: unknown, origin: string): string | number | boolean {
  switch (def.type) {
    case 'string':
      if (typeof value !== 'string' || value === '') throw configError(`${origin}: expected a non-empty string, got ${JSON.stringify(value)}`);
      return value;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      throw configError(`${origin}: expected true or false, got ${JSON.stringify(value)}`);
    case 'int':
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
      if (!Number.isFinite(n) || (def.type === 'int' && !Number.isInteger(n))) {
        throw configError(`${origin}: expected ${def.type === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`);
      }
      if (def.min !== undefined && n < def.min) throw configError(`${origin}: expected at least ${def.min}, got ${n}`);
      if (def.max !== undefined && n > def.max) throw configError(`${origin}: expected at most ${def.max}, got ${n}`);
      return n;
    }
    default: {
      const never: never = def.type;
      throw configError(`unknown option type ${String(never)}`);
    }
  }
}

interface ParsedCommandLine {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

function parseCommandLine(argv: readonly string[], extra: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>): ParsedCommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { ...extra };
  for (const def of OPTIONS) options[def.flag] = { type: def.type === 'boolean' ? 'boolean' : 'string' };
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: values as ParsedCommandLine['values'], positionals };
  } catch (err) {
    throw configError((err as Error).message);
  }
}

function readConfigFile(path: string): { raw: Record<string, unknown>; dir: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw configError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw configError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw configError(`config file ${path}: expected a JSON object at the top level`);
  }
  return { raw: parsed as Record<string, unknown>, dir: dirname(resolve(path)) };
}

/** Per-list keys of the config file that override the global defaults. */
const LIST_OPTION_KEYS = ['falsePositiveRate', 'maxAgeDays', 'maxShrinkRatio', 'maxBadLineRatio'] as const;
const LIST_KEYS = new Set(['name', 'kind', 'role', 'source', 'cron', 'timezone', 'warnDays', ...LIST_OPTION_KEYS]);

function optionDef(key: string): OptionDef {
  const def = OPTIONS.find((d) => d.key === key);
  if (def === undefined) throw new Error(`no option ${key}`);
  return def;
}

function parseListEntry(entry: unknown, index: number, dir: string, defaults: ListDefaults): ListSpec {
  const where = `config lists[${index}]`;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw configError(`${where}: expected an object { name, kind, source }`);
  const e = entry as Record<string, unknown>;
  for (const k of Object.keys(e)) if (!LIST_KEYS.has(k)) throw configError(`${where}: unknown key ${JSON.stringify(k)} (expected ${[...LIST_KEYS].join(', ')})`);
  if (typeof e['name'] !== 'string') throw configError(`${where}.name: expected a string, got ${JSON.stringify(e['name'])}`);
  const name = validateListName(e['name']);
  const kind = e['kind'] ?? 'deny';
  if (kind !== 'deny' && kind !== 'allow') throw configError(`${where}.kind: expected "deny" or "allow", got ${JSON.stringify(kind)}`);
  const role = e['role'] ?? (kind === 'allow' ? 'consent' : null);
  if (kind === 'allow' && role !== 'consent' && role !== 'contract') throw configError(`${where}.role: an allow-list is "consent" or "contract", got ${JSON.stringify(role)}`);
  if (kind === 'deny' && role !== null) throw configError(`${where}.role: only allow-lists have a role`);
  const source = e['source'] ?? null;
  if (source !== null && (typeof source !== 'string' || source === '')) throw configError(`${where}.source: expected a path, got ${JSON.stringify(source)}`);
  const num = (key: string, fileKey: string, fallback: number): number =>
    e[fileKey] === undefined ? fallback : (coerce(optionDef(key), e[fileKey], `${where}.${fileKey}`) as number);
  const str = (key: string, fileKey: string, fallback: string): string =>
    e[fileKey] === undefined ? fallback : (coerce(optionDef(key), e[fileKey], `${where}.${fileKey}`) as string);
  return {
    name,
    kind: kind as ListKind,
    role: role as ListSpec['role'],
    // Relative paths are relative to the config file, so a config works from any working directory.
    source: source === null || /^https?:\/\//.test(source) ? source : resolve(dir, source),
    falsePositiveRate: num('falsePositiveRate', 'falsePositiveRate', defaults.falsePositiveRate),
    refresh: {
      cron: str('refreshCron', 'cron', defaults.refresh.cron),
      timezone: str('refreshTimezone', 'timezone', defaults.refresh.timezone),
      maxAgeDays: num('maxAgeDays', 'maxAgeDays', defaults.refresh.maxAgeDays),
      warnDays: num('ageWarnDays', 'warnDays', defaults.refresh.warnDays),
      maxShrinkRatio: num('maxShrinkRatio', 'maxShrinkRatio', defaults.refresh.maxShrinkRatio),
      maxBadLineRatio: num('maxBadLineRatio', 'maxBadLineRatio', defaults.refresh.maxBadLineRatio),
      ...readLimitsOf(defaults.refresh),
    },
  };
}

/** The source read settings, global only (not per list). */
function readLimitsOf(r: RefreshPolicy): Pick<RefreshPolicy, 'settleMs' | 'maxListBytes' | 'maxLineChars' | 'pacing'> {
  return {
    ...(r.pacing === undefined ? {} : { pacing: r.pacing }),
    ...(r.settleMs === undefined ? {} : { settleMs: r.settleMs }),
    ...(r.maxListBytes === undefined ? {} : { maxListBytes: r.maxListBytes }),
    ...(r.maxLineChars === undefined ? {} : { maxLineChars: r.maxLineChars }),
  };
}

function listDefaultsFrom(o: Raw): ListDefaults {
  const refresh: RefreshPolicy = {
    cron: o['refreshCron'] as string,
    timezone: o['refreshTimezone'] as string,
    maxAgeDays: o['maxAgeDays'] as number,
    warnDays: o['ageWarnDays'] as number,
    maxShrinkRatio: o['maxShrinkRatio'] as number,
    maxBadLineRatio: o['maxBadLineRatio'] as number,
    settleMs: o['listSettleMs'] as number,
    maxListBytes: o['maxListBytes'] as number,
    maxLineChars: o['maxListLineChars'] as number,
    pacing: {
      enabled: o['refreshPacing'] as boolean,
      worker: o['refreshPacingWorker'] as boolean,
      targetRatio: o['refreshPacingRatio'] as number,
      targetUs: (o['refreshPacingTargetUs'] as number | null) ?? null,
      maxPauseMs: o['refreshPacingMaxPauseMs'] as number,
      maxSlowdown: o['refreshPacingMaxSlowdown'] as number,
    },
  };
  return { falsePositiveRate: o['falsePositiveRate'] as number, refresh };
}

function parseSentinels(value: string): { host: string; port: number }[] {
  return value.split(',').map((part) => {
    const m = /^\s*([^:\s]+):(\d{1,5})\s*$/.exec(part);
    if (!m || m[1] === undefined || m[2] === undefined) throw configError(`--redis-sentinels: expected host:port[,host:port…], got ${JSON.stringify(value)}`);
    return { host: m[1], port: Number(m[2]) };
  });
}

export interface ResolvedOptions {
  readonly options: Raw;
  readonly lists: ListSpec[];
  readonly positionals: string[];
  readonly flags: Record<string, string | boolean | string[] | undefined>;
  readonly defaults: ListDefaults;
  readonly rulesRaw: { policies: unknown; campaigns: unknown; defaultPolicy: unknown; foreignTimezone: unknown; unknownCampaign: unknown };
}

/** Resolves the shared options and list specs for a command from flags, environment and config file. */
export function resolveOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  extra: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {},
): ResolvedOptions {
  const { values, positionals } = parseCommandLine(argv, {
    config: { type: 'string' },
    list: { type: 'string', multiple: true },
    ...extra,
  });
  const configPath = (values['config'] as string | undefined) ?? env['CALLGATE_CONFIG'];
  const file = configPath ? readConfigFile(configPath) : null;
  const known = new Set([...OPTIONS.map((d) => d.key), 'lists', 'policies', 'campaigns']);
  if (file) for (const k of Object.keys(file.raw)) if (!known.has(k)) throw configError(`config file: unknown key ${JSON.stringify(k)}`);

  const options: Raw = {};
  for (const def of OPTIONS) {
    const flag = values[def.flag];
    const envValue = env[def.env];
    const fileValue = file?.raw[def.key];
    let value: string | number | boolean | null = def.default;
    if (flag !== undefined) value = coerce(def, flag, `--${def.flag}`);
    else if (envValue !== undefined && envValue !== '') value = coerce(def, envValue, def.env);
    else if (fileValue !== undefined && fileValue !== null) value = coerce(def, fileValue, `config file ${def.key}`);
    options[def.key] = value;
  }

  const defaults = listDefaultsFrom(options);
  const lists: ListSpec[] = [];
  if (file && file.raw['lists'] !== undefined) {
    const entries = file.raw['lists'];
    if (!Array.isArray(entries)) throw configError('config file lists: expected an array');
    entries.forEach((entry, i) => lists.push(parseListEntry(entry, i, file.dir, defaults)));
  }
  const shorthands = (values['list'] as string[] | undefined) ?? (env['CALLGATE_LISTS'] ? env['CALLGATE_LISTS'].split(',') : []);
  for (const s of shorthands) lists.push(parseListShorthand(s.trim(), defaults));
  const seen = new Set<string>();
  for (const l of lists) {
    if (seen.has(l.name)) throw configError(`list ${JSON.stringify(l.name)} is configured twice`);
    seen.add(l.name);
  }
  const rulesRaw = { policies: file?.raw['policies'], campaigns: file?.raw['campaigns'], defaultPolicy: options['defaultPolicy'], foreignTimezone: options['foreignTimezone'], unknownCampaign: options['unknownCampaign'] };
  return { options, lists, positionals, flags: values, defaults, rulesRaw };
}

export function defaultInstanceId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

function redisConfigFrom(o: Raw): RedisConfig | null {
  const sentinels = typeof o['redisSentinels'] === 'string' ? parseSentinels(o['redisSentinels']) : null;
  // With sentinels the URL only carries credentials, TLS and db: Redis mode without it, never embedded by surprise.
  const url = typeof o['redisUrl'] === 'string' ? o['redisUrl'] : sentinels !== null ? 'redis://' : null;
  if (url === null) return null;
  if (!/^rediss?:\/\//.test(url)) throw configError(`--redis / CALLGATE_REDIS_URL: expected redis:// or rediss://, got ${JSON.stringify(url.replace(/\/\/[^@]*@/, '//***@'))}`);
  return Object.freeze({
    url,
    prefix: o['redisPrefix'] as string,
    confirmTimeoutMs: o['redisConfirmTimeoutMs'] as number,
    allowEviction: o['redisAllowEviction'] as boolean,
    sentinels,
    sentinelName: o['redisSentinelName'] as string,
    waitReplicas: typeof o['redisWaitReplicas'] === 'number' ? o['redisWaitReplicas'] : sentinels !== null && sentinels.length > 0 ? 1 : 0,
    waitTimeoutMs: o['redisWaitTimeoutMs'] as number,
  });
}

/** A policy in use whose allows need their audit record cannot run with the audit trail off: refuse to start. */
function withAuditIfNeeded(rules: RulesConfig, audit: boolean): RulesConfig {
  if (audit) return rules;
  for (const p of [rules.defaultPolicy, ...[...rules.campaigns.values()].map((c) => c.policy)]) {
    if (p.allowNeedsAudit) throw configError(`--audit-dir off: policy ${p.name} allows a call only with its audit record (allowNeedsAudit); enable the audit trail or configure a variant with "allowNeedsAudit": false`);
  }
  return rules;
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function parseServeConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ServeConfig {
  const { options: o, lists, positionals, defaults, rulesRaw } = resolveOptions(argv, env);
  if (positionals.length > 0) throw configError(`serve takes no positional arguments, got ${JSON.stringify(positionals)}`);
  const redis = redisConfigFrom(o);
  // A sidecar in Redis mode may serve the lists already current in Redis; embedded mode needs files.
  if (lists.length === 0 && redis === null) {
    throw new CallgateError(
      ErrorCode.NO_LISTS,
      'no lists configured: give --list NAME=PATH (or CALLGATE_LISTS, or "lists" in --config FILE); refusing to start, since a gate with no list would allow every call',
    );
  }
  if (!LOG_LEVELS.has(o['logLevel'] as string)) throw configError(`--log-level: expected one of ${[...LOG_LEVELS].join(', ')}, got ${JSON.stringify(o['logLevel'])}`);
  // Every schedule is checked here, before any list is read: a bad cron or time zone found only when the
  // schedules start (after the lists loaded) crashed a sidecar that had already spent minutes loading.
  validateSchedule(defaults.refresh.cron, defaults.refresh.timezone);
  for (const l of lists) {
    try {
      validateSchedule(l.refresh.cron, l.refresh.timezone);
    } catch (err) {
      throw configError(`list ${l.name}: ${(err as Error).message}`);
    }
  }
  const rules = parseRulesConfig(rulesRaw, lists, redis !== null);
  const loadRetry = Object.freeze({ minMs: o['loadRetryMinMs'] as number, maxMs: o['loadRetryMaxMs'] as number });
  if (loadRetry.maxMs < loadRetry.minMs) throw configError(`--load-retry-max-ms: expected at least --load-retry-min-ms (${loadRetry.minMs}), got ${loadRetry.maxMs}`);
  return Object.freeze({
    host: o['host'] as string,
    port: o['port'] as number,
    lists: Object.freeze(lists),
    falsePositiveRate: o['falsePositiveRate'] as number,
    maxPayloadBytes: o['maxPayloadBytes'] as number,
    maxInFlight: o['maxInFlight'] as number,
    maxInFlightBytes: o['maxInFlightBytes'] as number,
    maxConnections: o['maxConnections'] as number,
    maxSockets: socketCap(o['maxSockets'] as number, o['maxConnections'] as number),
    pingIntervalMs: o['pingIntervalMs'] as number,
    allowedHosts: Object.freeze(((o['allowedHosts'] as string | null) ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '')),
    maxBatchSize: o['maxBatchSize'] as number,
    batchSliceSize: o['batchSliceSize'] as number,
    shutdownGraceMs: o['shutdownGraceMs'] as number,
    logLevel: o['logLevel'] as string,
    instanceId: (o['instanceId'] as string | null) ?? defaultInstanceId(),
    redis,
    adminToken: (o['adminToken'] as string | null) ?? null,
    journalPath: o['journalPath'] as string,
    blockList: (o['blockList'] as string | null) ?? null,
    statsToken: (o['statsToken'] as string | null) ?? null,
    checkToken: (o['checkToken'] as string | null) ?? null,
    optoutToken: (o['optoutToken'] as string | null) ?? null,
    stats: o['stats'] as boolean,
    rules: withAuditIfNeeded(rules, o['auditDir'] !== 'off'),
    auditDir: o['auditDir'] === 'off' ? null : (o['auditDir'] as string),
    auditRetentionDays: o['auditRetentionDays'] as number,
    auditMaxPendingBytes: o['auditMaxPendingBytes'] as number,
    unconfirmedAlertRatio: o['unconfirmedAlertRatio'] as number,
    unconfirmedAlertWindowMs: o['unconfirmedAlertWindowMs'] as number,
    unconfirmedAlertMinCount: o['unconfirmedAlertMinCount'] as number,
    listDefaults: defaults,
    clockDriftAlertMs: o['clockDriftAlertMs'] as number,
    loadRetry,
  });
}

export interface LoadConfig {
  readonly force: boolean;
  readonly redis: RedisConfig;
  readonly lists: readonly ListSpec[];
  readonly logLevel: string;
  readonly instanceId: string;
}

/** `callgate load --redis URL NAME=PATH…`: positionals are list shorthands. */
export function parseLoadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): LoadConfig {
  const { options: o, lists, positionals, defaults, flags } = resolveOptions(argv, env, { force: { type: 'boolean' }, kind: { type: 'string' }, role: { type: 'string' } });
  // NAME=PATH lists are deny-lists unless --kind (and --role) say otherwise: a consent list loaded as a
  // deny-list would be refused by the sidecars that serve it (or, before, taken over as one).
  const kind = (flags['kind'] as string | undefined) ?? 'deny';
  if (kind !== 'deny' && kind !== 'allow') throw configError(`--kind: expected deny or allow, got ${JSON.stringify(kind)}`);
  const role = (flags['role'] as string | undefined) ?? (kind === 'allow' ? 'consent' : null);
  if (kind === 'allow' && role !== 'consent' && role !== 'contract') throw configError(`--role: an allow-list is consent or contract, got ${JSON.stringify(role)}`);
  if (kind === 'deny' && role !== null) throw configError('--role: only allow-lists (--kind allow) have a role');
  const all = [...lists, ...positionals.map((p): ListSpec => ({ ...parseListShorthand(p, defaults), kind, role: role as ListSpec['role'] }))];
  const redis = redisConfigFrom(o);
  if (redis === null) throw configError('load needs Redis: give --redis URL (or --redis-sentinels) or CALLGATE_REDIS_URL');
  if (all.length === 0) throw new CallgateError(ErrorCode.NO_LISTS, 'load: no list given; expected NAME=PATH');
  for (const l of all) if (l.source === null) throw configError(`load: list ${l.name} has no source file`);
  return Object.freeze({ force: flags['force'] === true, redis, lists: Object.freeze(all), logLevel: o['logLevel'] as string, instanceId: (o['instanceId'] as string | null) ?? defaultInstanceId() });
}

/** `callgate accept-evictions`: Redis options only. */
export function parseAcceptEvictionsConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): { readonly redis: RedisConfig; readonly logLevel: string; readonly instanceId: string } {
  const { options: o, positionals } = resolveOptions(argv, env);
  if (positionals.length > 0) throw configError(`accept-evictions takes no positional arguments, got ${JSON.stringify(positionals)}`);
  const redis = redisConfigFrom(o);
  if (redis === null) throw configError('accept-evictions needs Redis: give --redis URL (or --redis-sentinels) or CALLGATE_REDIS_URL');
  return Object.freeze({ redis, logLevel: o['logLevel'] as string, instanceId: (o['instanceId'] as string | null) ?? defaultInstanceId() });
}

export interface CheckCommandConfig {
  readonly url: string;
  readonly numbers: readonly string[];
  readonly campaign: string | null;
  /** The replies as one JSON array instead of lines. */
  readonly json: boolean;
  /** Exit 1 when any number is blocked (0 all allowed, 2 an error). */
  readonly exitCode: boolean;
}

export function parseCheckCommand(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): CheckCommandConfig {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { url: { type: 'string' }, campaign: { type: 'string' }, json: { type: 'boolean' }, 'exit-code': { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw configError((err as Error).message);
  }
  const url = parsed.values.url ?? env['CALLGATE_URL'] ?? 'ws://127.0.0.1:8080';
  if (!/^wss?:\/\//.test(url)) throw configError(`--url: expected ws:// or wss://, got ${JSON.stringify(url)}`);
  if (parsed.positionals.length === 0) throw configError('check: expected at least one NUMBER');
  return Object.freeze({ url, numbers: parsed.positionals, campaign: parsed.values.campaign ?? null, json: parsed.values.json === true, exitCode: parsed.values['exit-code'] === true });
}

/**
 * The TCP connection cap actually used: check and /stats sockets are capped at maxConnections each, and
 * plain HTTP (health probes, metrics scrapes, HTTP checks) needs room beside them.
 */
export function socketCap(maxSockets: number, maxConnections: number): number {
  return Math.max(maxSockets, 2 * maxConnections + 64);
}

export interface ScrubCommandConfig {
  readonly input: string;
  readonly url: string;
  readonly campaign: string | null;
  /** `--column`: a 1-based index or a header name; null: detected from the header. */
  readonly column: string | null;
  /** `--out`: the folder the results go to; null: beside the input. */
  readonly outDir: string | null;
  /** One annotated file (every row, verdict appended) instead of callable and blocked files. */
  readonly annotate: boolean;
  /** The check token (`--token`, CALLGATE_CHECK_TOKEN), for a gate that requires one. */
  readonly token: string | null;
}

/** `callgate scrub LEADS.csv [--campaign C] [--column N|NAME] [--url …] [--out DIR] [--annotate] [--token T]`. */
export function parseScrubCommand(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ScrubCommandConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { url: { type: 'string' }, campaign: { type: 'string' }, column: { type: 'string' }, out: { type: 'string' }, annotate: { type: 'boolean' }, token: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw configError((err as Error).message);
  }
  const url = parsed.values.url ?? env['CALLGATE_URL'] ?? 'ws://127.0.0.1:8080';
  if (!/^wss?:\/\//.test(url)) throw configError(`--url: expected ws:// or wss://, got ${JSON.stringify(url)}`);
  if (parsed.positionals.length !== 1) throw configError(`scrub: expected one lead file, got ${parsed.positionals.length}`);
  const column = parsed.values.column ?? null;
  if (column !== null && column.trim() === '') throw configError('--column: expected a column number from 1 or a header name, got ""');
  return Object.freeze({
    input: parsed.positionals[0] as string,
    url,
    campaign: parsed.values.campaign ?? null,
    column,
    outDir: parsed.values.out ?? null,
    annotate: parsed.values.annotate === true,
    token: parsed.values.token ?? env['CALLGATE_CHECK_TOKEN'] ?? null,
  });
}
