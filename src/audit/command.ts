/**
 * `callgate audit NUMBER [--from DATE] [--to DATE] [--dir DIR]…`: every recorded decision and call
 * outcome of one number, from the audit files of one host or of several collected in one folder,
 * oldest first — the answer to an inspector's "show that each call to this number was checked".
 */
import { parseArgs } from 'node:util';
import { formatAuditRecord, queryAudit } from './query.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { normalise } from '../numbers/normalise.js';

type Env = Readonly<Record<string, string | undefined>>;

function date(value: string | undefined, flag: string, endOfDay: boolean): Date | undefined {
  if (value === undefined) return undefined;
  // A bare day means the whole day: --from its start, --to its end (UTC).
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T${endOfDay ? '23:59:59.999' : '00:00:00.000'}Z` : value;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new CallgateError(ErrorCode.CONFIG, `${flag}: expected a date (YYYY-MM-DD or ISO 8601), got ${JSON.stringify(value)}`);
  return d;
}

export async function runAuditCommand(argv: readonly string[], env: Env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { from: { type: 'string' }, to: { type: 'string' }, dir: { type: 'string', multiple: true } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CallgateError(ErrorCode.CONFIG, (err as Error).message);
  }
  const [raw, ...extra] = parsed.positionals;
  if (raw === undefined || extra.length > 0) throw new CallgateError(ErrorCode.CONFIG, 'usage: callgate audit NUMBER [--from DATE] [--to DATE] [--dir DIR]…');
  const number = normalise(raw);
  if (number === null) throw new CallgateError(ErrorCode.CONFIG, `${JSON.stringify(raw)} is not a valid number`);
  const dirs = parsed.values.dir ?? [env['CALLGATE_AUDIT_DIR'] ?? 'callgate-audit'];
  const from = date(parsed.values.from, '--from', false);
  const to = date(parsed.values.to, '--to', true);
  const result = await queryAudit({ dirs, number, ...(from ? { from } : {}), ...(to ? { to } : {}) });
  for (const r of result.records) process.stdout.write(`${formatAuditRecord(r)}\n`);
  process.stderr.write(`${result.records.length} record(s) for ${number} in ${result.files} file(s)${result.malformed > 0 ? `, ${result.malformed} malformed line(s) skipped` : ''}${result.newer > 0 ? `, ${result.newer} record(s) written by a newer callgate skipped` : ''}${result.unreadable.length > 0 ? `, ${result.unreadable.length} file(s) only partly readable` : ''}\n`);
  return result.unreadable.length > 0 ? 1 : 0;
}
