/**
 * Reads audit trails back for one number (the `callgate audit` command): every `callgate-audit-*.jsonl`
 * and `.jsonl.gz` under the given folders, recursively (several hosts' files collected in one place),
 * streamed line by line, so a file of any size costs little memory.
 *
 * A line is parsed only if it contains the number's JSON field (`"number":"+33…"`, as AuditLog writes it):
 * JSON.parse of every line would cost most of the time. Malformed lines are counted, never fatal: a line
 * that is not `{…}` (a torn write) always counts; one that looks like an object counts when it mentions the
 * number and does not parse as a record.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AUDIT_KINDS, WHY_RECORD_VERSION, type AuditRecord } from './record.js';
import { parseAuditFileName, utcDay } from './rotation.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { DAY_MS } from '../core/time.js';

const E164_RE = /^\+[1-9]\d{1,14}$/;

export interface AuditQueryOptions {
  /** Folders searched recursively. */
  readonly dirs: string | readonly string[];
  /** E.164 (the caller normalises what a person typed). */
  readonly number: string;
  /** Inclusive bounds on the record's `at`. */
  readonly from?: Date;
  readonly to?: Date;
}

export interface AuditQueryResult {
  /** Check, outcome and why records of the number, sorted by `at` (then instance). */
  readonly records: AuditRecord[];
  /** Files read (after the by-name day filter). */
  readonly files: number;
  readonly lines: number;
  readonly malformed: number;
  /**
   * Records of the number this build cannot read: a kind it does not know, or a `why` of a newer version (written
   * by a newer callgate). Counted apart from malformed lines, never read with older rules.
   */
  readonly newer: number;
  /** Files that failed part-way (a truncated .gz): their readable lines are included. */
  readonly unreadable: readonly { readonly file: string; readonly message: string }[];
}

export async function queryAudit(options: AuditQueryOptions): Promise<AuditQueryResult> {
  const { number } = options;
  if (!E164_RE.test(number)) throw new CallgateError(ErrorCode.BAD_REQUEST, `audit query: expected an E.164 number (+ and up to 15 digits), got ${JSON.stringify(number)}`);
  const fromMs = options.from?.getTime() ?? -Infinity;
  const toMs = options.to?.getTime() ?? Infinity;
  if (Number.isNaN(fromMs) || Number.isNaN(toMs) || fromMs > toMs) throw new CallgateError(ErrorCode.BAD_REQUEST, 'audit query: expected valid dates with from <= to');
  // A file's day is the writer's clock at write time; a record's `at` may fall a moment earlier (or, with a
  // stepped clock, later): read one day of margin on each side, filter exactly on `at`.
  const fromDay = Number.isFinite(fromMs) ? utcDay(fromMs - DAY_MS) : '';
  const toDay = Number.isFinite(toMs) ? utcDay(toMs + DAY_MS) : '9999-99-99';

  const files: string[] = [];
  for (const dir of typeof options.dirs === 'string' ? [options.dirs] : options.dirs) {
    let names: string[];
    try {
      names = await readdir(dir, { recursive: true });
    } catch (err) {
      throw new CallgateError(ErrorCode.CONFIG, `audit query: cannot read folder ${dir}`, { cause: err });
    }
    for (const name of names) {
      const f = parseAuditFileName(basename(name));
      if (f === null || f.day < fromDay || f.day > toDay) continue;
      const path = join(dir, name);
      if ((await stat(path)).isFile()) files.push(path);
    }
  }
  files.sort();

  const needle = `"number":${JSON.stringify(number)}`;
  // `why` records name the number under `readings` (audit/record.ts AuditWhy).
  const quoted = JSON.stringify(number);
  const records: AuditRecord[] = [];
  const unreadable: { file: string; message: string }[] = [];
  let lines = 0;
  let malformed = 0;
  let newer = 0;
  for (const file of files) {
    try {
      for await (const raw of readLines(file)) {
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        if (line === '') continue;
        lines++;
        if (line.charCodeAt(0) !== 0x7b || line.charCodeAt(line.length - 1) !== 0x7d) {
          malformed++;
          continue;
        }
        if (!line.includes(needle) && !(line.startsWith('{"type":"why"') && line.includes(quoted))) continue;
        const rec = parseRecord(line);
        if (rec === null) {
          if (isNewerRecord(line)) newer++;
          else malformed++;
          continue;
        }
        if (rec.type === 'batch') continue;
        if (rec.type === 'why' ? !rec.readings.includes(number) : rec.number !== number) continue;
        const at = Date.parse(rec.at);
        if (at < fromMs || at > toMs) continue;
        records.push(rec);
      }
    } catch (err) {
      unreadable.push({ file, message: err instanceof Error ? err.message : String(err) });
    }
  }
  records.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
  return { records, files: files.length, lines, malformed, newer, unreadable };
}

/** Lines of a file, gunzipped if its name says so; stream errors (a truncated .gz) surface as a throw. */
async function* readLines(path: string): AsyncGenerator<string> {
  const raw = createReadStream(path);
  let input: Readable = raw;
  if (path.endsWith('.gz')) {
    const gunzip = createGunzip();
    raw.once('error', (err) => gunzip.destroy(err));
    input = raw.pipe(gunzip);
  }
  input.setEncoding('utf8');
  let rest = '';
  try {
    for await (const chunk of input as AsyncIterable<string>) {
      const text = rest + chunk;
      let start = 0;
      let nl = text.indexOf('\n', start);
      while (nl !== -1) {
        yield text.slice(start, nl);
        start = nl + 1;
        nl = text.indexOf('\n', start);
      }
      rest = text.slice(start);
    }
    if (rest !== '') yield rest;
  } finally {
    raw.destroy();
    input.destroy();
  }
}

function isStringMap(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A line this build cannot read because a newer build wrote it: an unknown kind, or a `why` of a newer `v`. */
function isNewerRecord(line: string): boolean {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return false;
  }
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if (typeof r['type'] !== 'string' || typeof r['at'] !== 'string') return false;
  if (!AUDIT_KINDS.has(r['type'])) return true;
  return r['type'] === 'why' && typeof r['v'] === 'number' && r['v'] > WHY_RECORD_VERSION;
}

/** A file line as a record, or null when it is not one AuditLog could have written. */
export function parseRecord(line: string): AuditRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  if (typeof r['at'] !== 'string' || Number.isNaN(Date.parse(r['at'])) || typeof r['instance'] !== 'string') return null;
  switch (r['type']) {
    case 'check':
      if (!(typeof r['number'] === 'string' || r['number'] === null)) return null;
      if ((r['verdict'] !== 'allow' && r['verdict'] !== 'block') || typeof r['reason'] !== 'string' || typeof r['policy'] !== 'string') return null;
      return isStringMap(r['generations']) ? (r as unknown as AuditRecord) : null;
    case 'outcome':
      if (typeof r['number'] !== 'string' || (r['outcome'] !== 'no_answer' && r['outcome'] !== 'answered' && r['outcome'] !== 'refused')) return null;
      return r as unknown as AuditRecord;
    case 'batch':
      return typeof r['count'] === 'number' && isStringMap(r['blockedByReason']) && isStringMap(r['generations']) ? (r as unknown as AuditRecord) : null;
    case 'why':
      if (r['v'] !== WHY_RECORD_VERSION || typeof r['who'] !== 'string' || !isStringMap(r['verdicts'])) return null;
      return Array.isArray(r['readings']) && r['readings'].every((n) => typeof n === 'string') ? (r as unknown as AuditRecord) : null;
    default:
      return null;
  }
}

function pairs(m: Readonly<Record<string, string | number>>, sep: string): string {
  const s = Object.entries(m)
    .map(([k, v]) => `${k}${sep}${v}`)
    .join(',');
  return s === '' ? '-' : s;
}

/** One human-readable line per record, for the CLI. */
export function formatAuditRecord(r: AuditRecord): string {
  const campaign = `campaign=${('campaign' in r ? r.campaign : null) ?? '-'}`;
  const instance = `instance=${r.instance}`;
  switch (r.type) {
    case 'check': {
      const who = r.number ?? `invalid:${JSON.stringify(r.input ?? '')}`;
      const parts = [r.at, 'check', who, campaign, `policy=${r.policy}`, r.verdict, r.reason];
      if (r.basis !== undefined && r.basis !== r.reason) parts.push(`basis=${r.basis}`);
      if (r.retryAt !== undefined) parts.push(`retryAt=${r.retryAt}`);
      if (r.dial !== undefined) parts.push(`dial=${r.dial ? 'yes' : 'no'}`);
      if (r.consent !== undefined) {
        const c = r.consent;
        const terms = [c.consentedAt && `at=${c.consentedAt}`, c.source && `source=${c.source}`, c.proof && `proof=${c.proof}`, c.expiresAt && `expires=${c.expiresAt}`].filter(Boolean);
        parts.push(`consent=${c.list}:${c.state}${terms.length > 0 ? `(${terms.join(',')})` : ''}`);
      }
      parts.push(`generations=${pairs(r.generations, '@')}`, instance);
      return parts.join('  ');
    }
    case 'outcome':
      return [r.at, 'outcome', r.number, campaign, r.outcome, instance].join('  ');
    case 'why':
      return [r.at, 'why', r.readings.join(','), `who=${r.who}`, `verdicts=${pairs(r.verdicts, ':')}`, instance].join('  ');
    case 'batch':
      return [r.at, 'batch', `count=${r.count}`, campaign, `policy=${r.policy}`, `blocked=${pairs(r.blockedByReason, ':')}`, `generations=${pairs(r.generations, '@')}`, instance].join('  ');
    default: {
      const never: never = r;
      return String(never);
    }
  }
}
