/**
 * The audit trail's files: their names (`callgate-audit-{instance}-{YYYY-MM-DD}.jsonl`, UTC day, `.gz` once
 * compressed), compressing a finished day as a stream, and the sweep that compresses leftovers of previous
 * days (a crash) and deletes files past the retention. Apart from the writer (audit/writer.ts) because the
 * reader (audit/query.ts) needs the names too, and because none of it is on the check path.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { PRIVATE_FILE_MODE } from '../core/private-files.js';
import { DAY_MS } from '../core/time.js';

/** A peer's previous-day .jsonl untouched for this long is a crash leftover (a live peer rotates within a flush). */
const LEFTOVER_IDLE_MS = 10 * 60_000;

const FILE_RE = /^callgate-audit-(.+)-(\d{4}-\d{2}-\d{2})\.jsonl(\.gz)?$/;

export function sanitiseInstanceId(id: string): string {
  const s = id.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 64);
  if (s === '') throw new CallgateError(ErrorCode.CONFIG, `audit instanceId: expected a non-empty string, got ${JSON.stringify(id)}`);
  return s;
}

/** `YYYY-MM-DD` of a UTC instant. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function auditFileName(instance: string, day: string): string {
  return `callgate-audit-${instance}-${day}.jsonl`;
}

/** Parses a file name written by AuditLog; null for anything else. */
export function parseAuditFileName(name: string): { instance: string; day: string; gzip: boolean } | null {
  const m = FILE_RE.exec(name);
  if (m === null) return null;
  return { instance: m[1] as string, day: m[2] as string, gzip: m[3] !== undefined };
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

export interface SweepOptions {
  readonly dir: string;
  /** Wall clock of the log, in ms. */
  readonly now: number;
  readonly retentionDays: number;
  /** This process's sanitised instance id: its own previous days are compressed at once. */
  readonly fileInstance: string;
  /** The file the writer has open now (read at each step: it may rotate meanwhile); never compressed. */
  readonly openPath: () => string | undefined;
  readonly logger: Logger;
}

/** Leftovers of previous days are compressed; files past the retention are deleted. */
export async function sweepAuditDir(o: SweepOptions): Promise<void> {
  const { now } = o;
  const today = utcDay(now);
  const oldestKept = utcDay(now - o.retentionDays * DAY_MS);
  let deleted = 0;
  const names = await readdir(o.dir);
  for (const name of names) {
    // A compression that died (first, so that its .jsonl is compressed again below).
    if (!name.endsWith('.gz.tmp') || parseAuditFileName(name.slice(0, -'.tmp'.length)) === null) continue;
    const path = join(o.dir, name);
    if ((await idleFor(path)) >= LEFTOVER_IDLE_MS) await unlinkQuiet(path);
  }
  for (const name of names) {
    const path = join(o.dir, name);
    const f = parseAuditFileName(name);
    if (f === null) continue;
    // Every instance's files: default instance ids change per process, so per-instance retention would leak.
    if (f.day < oldestKept) {
      await unlinkQuiet(path);
      deleted++;
      continue;
    }
    if (f.gzip || f.day >= today || o.openPath() === path) continue;
    const mine = f.instance === o.fileInstance;
    if (mine || (await idleFor(path)) >= LEFTOVER_IDLE_MS) await compressFile(path).catch((err: unknown) => o.logger.error({ err, file: path }, 'audit trail: compression failed; the .jsonl is kept'));
  }
  if (deleted > 0) o.logger.info({ dir: o.dir, deleted, oldestKept }, 'audit trail: files past retention deleted');
}

/** Real time since the last modification (mtime is real time, whatever clock the log was given). */
async function idleFor(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

async function unlinkQuiet(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

/**
 * Streams `x.jsonl` into `x.jsonl.gz`, then removes `x.jsonl`. The temp file is created exclusively ('wx'):
 * it doubles as a lock, so two processes sweeping one folder never compress the same file twice.
 * If `x.jsonl.gz` already exists (the clock went back a day), the new gzip member is appended: gzip readers,
 * Node's included, read concatenated members as one stream.
 */
export async function compressFile(path: string): Promise<void> {
  const gz = `${path}.gz`;
  const tmp = `${gz}.tmp`;
  let out: WriteStream;
  try {
    out = await new Promise<WriteStream>((resolve, reject) => {
      const s = createWriteStream(tmp, { flags: 'wx', mode: PRIVATE_FILE_MODE });
      s.once('open', () => resolve(s)).once('error', reject);
    });
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return;
    throw err;
  }
  try {
    await pipeline(createReadStream(path), createGzip(), out);
    const fh = await open(tmp, 'r+');
    await fh.datasync().finally(() => fh.close());
    let exists = true;
    try {
      await stat(gz);
    } catch {
      exists = false;
    }
    if (exists) {
      await pipeline(createReadStream(tmp), createWriteStream(gz, { flags: 'a', mode: PRIVATE_FILE_MODE }));
      await unlink(tmp);
    } else {
      await rename(tmp, gz);
    }
    await unlinkQuiet(path);
  } catch (err) {
    await unlinkQuiet(tmp).catch(() => undefined);
    // Someone else compressed (and removed) it between our listing and our read.
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
}
