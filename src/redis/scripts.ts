/**
 * The Lua scripts of Redis mode: reads redis/lua/*.lua (beside this file in src/ and, copied by
 * scripts/copy-assets.mjs, in dist/), resolves `--- @include lib/x.lua` lines (bullmq's convention: each
 * fragment once per script) and `{{NAME}}` constants, and gives connection.ts the defineCommand table.
 * Read once per store at start-up: the hot path still runs EVALSHA-registered commands.
 *
 * Each .lua file opens with a header naming its KEYS, ARGV and reply; the TypeScript calling it must pass them
 * in that order. Script semantics and replies are part of the stored format (sidecars of two builds share Redis).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { CHANGE_FORMAT_FIELD, FORMAT_VERSION } from './codecs.js';
import { DEFAULT_REFUSAL_DAYS } from './consumer-history.js';
import { refusalTtlMs } from './keys.js';

type Args = Array<string | number | Buffer>;

/** The commands defineCommand adds to every connection (EVALSHA, falling back to EVAL once per connection). */
export interface Scripts {
  cgConfirm(numKeys: number, ...args: Args): Promise<unknown>;
  cgSwitch(...args: Args): Promise<unknown>;
  cgRegister(...args: Args): Promise<unknown>;
  cgMarker(...args: Args): Promise<unknown>;
  cgClaim(...args: Args): Promise<unknown>;
  cgIntraday(...args: Args): Promise<unknown>;
  cgHeartbeat(...args: Args): Promise<unknown>;
  cgPrune(numKeys: number, ...args: Args): Promise<unknown>;
  cgRenew(...args: Args): Promise<unknown>;
  cgRelease(...args: Args): Promise<unknown>;
  cgDecide(numKeys: number, ...args: Args): Promise<unknown>;
  cgOutcome(...args: Args): Promise<unknown>;
  cgAttempts(...args: Args): Promise<unknown>;
  cgFormat(...args: Args): Promise<unknown>;
  cgRestoreRefusal(...args: Args): Promise<unknown>;
}

export interface ScriptDefinition {
  readonly command: keyof Scripts;
  /** The resolved Lua text (includes and constants in place). */
  readonly lua: string;
  /** Fixed KEYS count; undefined when the caller passes it first (a variable number of items). */
  readonly numberOfKeys: number | undefined;
}

/** Command → file (lua/<file>.lua) and fixed KEYS count. */
const TABLE: ReadonlyArray<readonly [keyof Scripts, string, number | undefined]> = [
  ['cgConfirm', 'confirm', undefined],
  ['cgSwitch', 'switch', 5],
  ['cgRegister', 'register', 1],
  ['cgMarker', 'marker', 2],
  ['cgClaim', 'claim', 3],
  ['cgIntraday', 'intraday', 3],
  ['cgHeartbeat', 'heartbeat', 2],
  ['cgPrune', 'prune', undefined],
  ['cgRenew', 'renew', 1],
  ['cgRelease', 'release', 1],
  ['cgDecide', 'decide', undefined],
  ['cgOutcome', 'outcome', 1],
  ['cgAttempts', 'attempts', 1],
  ['cgFormat', 'format', 2],
  ['cgRestoreRefusal', 'restore-refusal', 1],
];

/** Values the scripts take from TypeScript, so that one constant has one definition. */
const CONSTANTS: Readonly<Record<string, string>> = {
  CHANGE_FORMAT_FIELD,
  FORMAT_VERSION: String(FORMAT_VERSION),
  // decide.lua: the period of a refusal key without expiry (written by hand), as a recorded refusal's.
  REFUSAL_FALLBACK_MS: String(refusalTtlMs(DEFAULT_REFUSAL_DAYS)),
};

const INCLUDE = /^--- @include (\S+)\s*$/gm;
const CONSTANT = /\{\{([A-Z_]+)\}\}/g;

/** Reads and resolves every script; throws CALLGATE_ERR_CONFIG when a file is missing (a broken install). */
export function loadScripts(dir: URL = new URL('./lua/', import.meta.url)): ScriptDefinition[] {
  const read = (name: string): string => {
    try {
      return readFileSync(new URL(name, dir), 'utf8');
    } catch (err) {
      throw new CallgateError(ErrorCode.CONFIG, `cannot read Redis script ${name} in ${dir.pathname}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  return TABLE.map(([command, file, numberOfKeys]) => ({ command, lua: resolve(`${file}.lua`, read), numberOfKeys }));
}

/** Inlines includes (each once, nested ones too) and fills {{CONSTANTS}}. */
function resolve(name: string, read: (name: string) => string): string {
  const included = new Set<string>();
  const expand = (text: string): string =>
    text.replace(INCLUDE, (_line, path: string) => {
      if (included.has(path)) return '';
      included.add(path);
      return expand(read(path)).replace(/\n$/, '');
    });
  return expand(read(name)).replace(CONSTANT, (_m, key: string) => {
    const value = CONSTANTS[key];
    if (value === undefined) throw new CallgateError(ErrorCode.CONFIG, `Redis script ${name} names an unknown constant {{${key}}}`);
    return value;
  });
}

/** sha1 of a script's text: the name Redis's script cache gives it (EVALSHA). */
export function scriptDigest(lua: string): string {
  return createHash('sha1').update(lua).digest('hex');
}

/** sha1 of each script, as Redis's script cache names it (for tests that look at the cache). */
export function scriptDigests(scripts: readonly ScriptDefinition[] = loadScripts()): Record<string, string> {
  return Object.fromEntries(scripts.map((s) => [s.command, scriptDigest(s.lua)]));
}
