/**
 * The audit trail: one JSON line per decision, appended to `{dir}/callgate-audit-{instance}-{YYYY-MM-DD}.jsonl`
 * (UTC day), so that an inspector's question — "show that each call to this number was checked: which list
 * versions, which rule allowed it, when" — has an answer (DOMAIN.md "Proof"; loi 2025-594 art. 13 puts the
 * proof of consent on the caller). It is the one place phone numbers are written.
 *
 * write() is on the check path: it serialises once and pushes a string into a memory buffer, nothing else.
 * A 200 ms timer or a 256 KiB threshold hands the buffer to ONE fs write; `datasync` runs at most once a
 * second (and on rotation and close): a process crash loses at most the last ~200 ms of records, a power
 * loss at most ~1.2 s, and fsync cost stays off the per-record budget.
 *
 * Disk failure: checks never wait for the disk. Unwritten lines stay buffered and are retried by the timer;
 * the buffer (lines in flight included) is bounded by `maxPendingBytes`: a record that would go past it is
 * refused — write() returns false — and counted in `stats().dropped`, logged at error level. Refusing the
 * NEWEST record, not dropping the oldest, keeps the proof of decisions already answered; the caller can still
 * refuse a decision whose record was not taken. `writable` is false from a failed write until the next
 * successful one: one boolean read for the hot path to fail closed (policy `allowNeedsAudit`).
 *
 * Rotation: the first write of a new UTC day (writer's clock) goes to a new file; the previous file is then
 * gzipped as a stream to `….jsonl.gz` (temp name first, renamed, then the .jsonl removed). At open and once a
 * day a sweep compresses leftovers of previous days (a crash) and deletes files older than the retention.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Basis } from '../rules/policy.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../core/private-files.js';
import type { ConsentEvidence, Verdict } from '../check/verdict.js';
import { DAY_MS } from '../core/time.js';

/** 16 Mi chars of lines: ~64k records at ~250 bytes, a few seconds of saturation, tens of MB of heap at most. */
export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** `input` of an invalid number is kept short: it is what the dialer sent, possibly garbage. */
export const AUDIT_INPUT_MAX_CHARS = 40;

/** One decision: a single-number check. */
export interface AuditCheck {
  readonly type: 'check';
  /** ISO 8601 UTC instant of the decision. */
  readonly at: string;
  /** E.164; null when the input could not be normalised. */
  readonly number: string | null;
  /** Only when `number` is null: what was given (truncated by write() to AUDIT_INPUT_MAX_CHARS). */
  readonly input?: string;
  readonly campaign: string | null;
  readonly policy: string;
  readonly verdict: Verdict;
  /** A fixed reason word or the name of the deny-list that has the number. */
  readonly reason: string;
  /** On allow: the rule that allowed the call. */
  readonly basis?: Basis;
  readonly retryAt?: string;
  /** True when the caller said it dials on this answer (it counted as an attempt). */
  readonly dial?: boolean;
  /** The consent consulted (list, state, when, how, proof reference, expiry), when a consent list has the number. */
  readonly consent?: ConsentEvidence;
  /** List name → generation consulted. */
  readonly generations: Readonly<Record<string, string>>;
}

/** A batch check: a summary without numbers (the per-number lines are check records if the caller wants them). */
export interface AuditBatch {
  readonly type: 'batch';
  readonly at: string;
  readonly campaign: string | null;
  readonly policy: string;
  readonly count: number;
  readonly blockedByReason: Readonly<Record<string, number>>;
  readonly generations: Readonly<Record<string, string>>;
}

/** What came of a call (the history the frequency and refusal rules apply to). */
export interface AuditOutcome {
  readonly type: 'outcome';
  readonly at: string;
  readonly number: string;
  readonly campaign: string | null;
  readonly outcome: 'no_answer' | 'answered' | 'refused';
}

/** What the service writes; the log adds `instance` itself. */
export type AuditEvent = AuditCheck | AuditBatch | AuditOutcome;
/** What a file line holds. */
export type AuditRecord = AuditEvent & { readonly instance: string };

export interface AuditLogStats {
  /** Records durably handed to the file system (written; fsync follows within a second). */
  readonly written: number;
  /** Records lost because the disk failed for longer than the buffer could hold. */
  readonly dropped: number;
  /** Serialised bytes (UTF-16 code units, close enough) waiting in memory. */
  readonly pendingBytes: number;
  /** True from a failed write until the next successful one. */
  readonly failing: boolean;
}

export interface AuditLogOptions {
  /** Folder of this host's audit files (created if missing). */
  readonly dir: string;
  /** This process's id; sanitised for the file name, kept as-is in each record. */
  readonly instanceId: string;
  /** Files whose day is older than this are deleted. @default 1095 (3 years) */
  readonly retentionDays?: number;
  /** Wall clock in ms (injected by tests). @default Date.now */
  readonly now?: () => number;
  readonly logger: Logger;
  /** @default 200 */
  readonly flushIntervalMs?: number;
  /** Buffered bytes that trigger a flush before the timer. @default 262144 (256 KiB) */
  readonly flushBytes?: number;
  /** Bound of the buffer (UTF-16 code units, lines being written included); records past it are refused and counted lost. @default 16777216 (16 MiB) */
  readonly maxPendingBytes?: number;
  /** At most one datasync per this period. @default 1000 */
  readonly syncIntervalMs?: number;
}

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

interface Segment {
  readonly day: string;
  lines: string[];
  bytes: number;
}

interface OpenFile {
  readonly day: string;
  readonly path: string;
  readonly fh: FileHandle;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

export class AuditLog {
  readonly #dir: string;
  readonly #fileInstance: string;
  /** `,"instance":"…"}\n`, serialised once: write() splices it over the record's closing brace. */
  readonly #tail: string;
  readonly #retentionDays: number;
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #flushBytes: number;
  readonly #maxPendingBytes: number;
  readonly #syncIntervalMs: number;
  readonly #timer: NodeJS.Timeout;

  #segments: Segment[] = [];
  /** First instant of the next UTC day of the current segment: one comparison per write. */
  #dayEnd = 0;
  #pendingBytes = 0;
  #written = 0;
  #dropped = 0;
  #droppedLogged = 0;
  #failing = false;
  /** !failing && !closed, kept as one field: the hot path reads it per check. */
  #writable = true;
  #file: OpenFile | null = null;
  /** Latest day a file was opened for: files only move forward, a compressed day is never reopened. */
  #lastDay = '';
  /** The open file's last line was torn (crash or partial write): start the next write with '\n'. */
  #torn = false;
  #dirty = false;
  #lastSync = performance.now();
  #sweepDay = '';
  #closed = false;
  #closing: Promise<void> | null = null;
  /** Serialises flushes, syncs and rotations. */
  #chain: Promise<void> = Promise.resolve();
  #queuedFlush: Promise<void> | null = null;
  /** Compressions and sweeps in the background; close() awaits them. */
  readonly #background = new Set<Promise<void>>();

  private constructor(options: AuditLogOptions, fileInstance: string, retentionDays: number) {
    this.#dir = options.dir;
    this.#fileInstance = fileInstance;
    this.#tail = `,"instance":${JSON.stringify(options.instanceId)}}\n`;
    this.#retentionDays = retentionDays;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger;
    this.#flushBytes = options.flushBytes ?? 256 * 1024;
    this.#maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.#syncIntervalMs = options.syncIntervalMs ?? 1000;
    this.#timer = setInterval(() => this.#tick(), options.flushIntervalMs ?? 200);
    // The owner must close(); the timer alone must not keep a finished process alive.
    this.#timer.unref();
  }

  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const retentionDays = options.retentionDays ?? 1095;
    if (!Number.isInteger(retentionDays) || retentionDays < 1) {
      throw new CallgateError(ErrorCode.CONFIG, `audit retentionDays: expected an integer >= 1, got ${String(options.retentionDays)}`);
    }
    const fileInstance = sanitiseInstanceId(options.instanceId);
    try {
      await mkdir(options.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    } catch (err) {
      throw new CallgateError(ErrorCode.CONFIG, `audit dir: cannot create ${options.dir}`, { cause: err });
    }
    const log = new AuditLog(options, fileInstance, retentionDays);
    log.#sweepInBackground();
    return log;
  }

  /**
   * False from a failed write until the next successful one, and after close: records are then only
   * buffered (or refused), not written. A field read, for the hot path.
   */
  get writable(): boolean {
    return this.#writable;
  }

  /**
   * Synchronous and cheap: serialise once, buffer. Never throws for I/O reasons, never waits. Returns false when
   * the record was refused (closed, or the buffer is at its bound): it is then counted lost.
   */
  write(event: AuditEvent): boolean {
    if (this.#closed) {
      this.#drop(1, 'write after close');
      return false;
    }
    let e = event;
    if (e.type === 'check' && e.input !== undefined && e.input.length > AUDIT_INPUT_MAX_CHARS) e = { ...e, input: e.input.slice(0, AUDIT_INPUT_MAX_CHARS) };
    return this.writeJson(JSON.stringify(e));
  }

  /**
   * The hot path's variant of write(): `json` is one event already serialised as a JSON object
   * (the caller builds it from cached fragments, which costs a fraction of JSON.stringify on an object).
   */
  writeJson(json: string): boolean {
    if (this.#closed) {
      this.#drop(1, 'write after close');
      return false;
    }
    const line = json.slice(0, -1) + this.#tail;
    if (this.#pendingBytes + line.length > this.#maxPendingBytes) {
      this.#drop(1, 'buffer full while the disk is failing or slow');
      return false;
    }
    const t = this.#now();
    let seg = this.#segments[this.#segments.length - 1];
    if (seg === undefined || t >= this.#dayEnd) {
      const day = utcDay(t);
      if (seg === undefined || seg.day !== day) {
        seg = { day, lines: [], bytes: 0 };
        this.#segments.push(seg);
      }
      this.#dayEnd = Date.parse(`${day}T00:00:00.000Z`) + DAY_MS;
    }
    seg.lines.push(line);
    seg.bytes += line.length;
    this.#pendingBytes += line.length;
    // While failing, the timer retries: a flush per record would only hammer a dead disk.
    if (this.#pendingBytes >= this.#flushBytes && this.#queuedFlush === null && !this.#failing) void this.flush();
    return true;
  }

  /** Writes everything buffered so far. Never rejects: failures are logged and show in stats(). */
  flush(): Promise<void> {
    if (this.#queuedFlush !== null) return this.#queuedFlush;
    const p = this.#enqueue(() => {
      this.#queuedFlush = null;
      return this.#writeOut();
    });
    this.#queuedFlush = p;
    return p;
  }

  /** Flushes, syncs and closes the file, waits for compressions. Nothing buffered is lost unless the disk fails. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearInterval(this.#timer);
    // Records written while a flush runs are flushed too; `#closed` is set with no await after the last check.
    do {
      await this.flush();
    } while (this.#pendingBytes > 0 && !this.#failing);
    this.#closed = true;
    this.#writable = false;
    await this.#enqueue(async () => {
      if (this.#file !== null) await this.#closeFile(this.#file);
      this.#file = null;
    });
    while (this.#background.size > 0) await Promise.all(this.#background);
    if (this.#pendingBytes > 0) {
      const lost = this.#segments.reduce((n, s) => n + s.lines.length, 0);
      this.#drop(lost, 'closed while the disk was failing');
      this.#segments = [];
      this.#pendingBytes = 0;
    }
  }

  stats(): AuditLogStats {
    return { written: this.#written, dropped: this.#dropped, pendingBytes: this.#pendingBytes, failing: this.#failing };
  }

  #tick(): void {
    const now = this.#now();
    const today = utcDay(now);
    if (this.#pendingBytes > 0) void this.flush();
    else if (this.#file !== null && this.#file.day < today) {
      // A quiet midnight: no record opens the new day, so rotate yesterday's file now.
      const file = this.#file;
      void this.#enqueue(async () => {
        if (this.#file !== file) return;
        this.#file = null;
        this.#lastDay = today;
        await this.#closeFile(file);
        this.#compressInBackground(file.path);
      });
    } else if (this.#dirty && performance.now() - this.#lastSync >= this.#syncIntervalMs) {
      void this.#enqueue(() => this.#sync());
    }
    if (today !== this.#sweepDay) this.#sweepInBackground();
  }

  /** Runs `fn` after everything queued before it; the chain survives a failure (logged). */
  #enqueue(fn: () => Promise<void>): Promise<void> {
    const p = this.#chain.then(fn).catch((err: unknown) => this.#logger.error({ err, dir: this.#dir }, 'audit trail: unexpected failure'));
    this.#chain = p;
    return p;
  }

  async #writeOut(): Promise<void> {
    const segments = this.#segments;
    if (segments.length === 0) return;
    this.#segments = [];
    // #pendingBytes keeps counting the lines in flight until they are written: the bound covers them too.
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i] as Segment;
      const bytes = seg.bytes;
      try {
        await this.#appendSegment(seg);
        this.#pendingBytes -= bytes;
      } catch (err) {
        this.#pendingBytes -= bytes - seg.bytes;
        // Put back what was not written, in front of anything buffered meanwhile (order kept).
        const rest = segments.slice(i).filter((s) => s.lines.length > 0);
        this.#segments = rest.concat(this.#segments);
        if (!this.#failing) this.#logger.error({ err, dir: this.#dir, pendingBytes: this.#pendingBytes }, 'audit trail: write failed; records kept in memory and retried');
        this.#failing = true;
        this.#writable = false;
        // The handle itself may be dead (EIO, a remount): the retry reopens the file.
        const file = this.#file;
        this.#file = null;
        if (file !== null) await this.#closeFile(file);
        return;
      }
    }
    if (this.#failing) {
      this.#failing = false;
      this.#writable = !this.#closed;
      this.#logger.warn({ dir: this.#dir, dropped: this.#dropped }, 'audit trail: writing again');
    }
    if (performance.now() - this.#lastSync >= this.#syncIntervalMs) await this.#sync();
  }

  async #appendSegment(seg: Segment): Promise<void> {
    let file = this.#file;
    // Days only move forward: a segment of an earlier day (clock stepped back) goes to the latest file.
    const day = seg.day > this.#lastDay ? seg.day : this.#lastDay;
    if (file === null || day > file.day) {
      if (file !== null) {
        this.#file = null;
        await this.#closeFile(file);
        this.#compressInBackground(file.path);
      }
      file = await this.#openFile(day);
      this.#file = file;
      this.#lastDay = day;
    }
    const text = (this.#torn ? '\n' : '') + seg.lines.join('');
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    try {
      while (off < buf.length) {
        const { bytesWritten } = await file.fh.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
    } catch (err) {
      if (off > 0) {
        // Part of the text reached the file: drop the lines that did, so they are not written twice.
        let done = this.#torn ? 1 : 0;
        let n = 0;
        for (const line of seg.lines) {
          const len = Buffer.byteLength(line);
          if (done + len > off) break;
          done += len;
          n++;
        }
        this.#written += n;
        this.#torn = done !== off;
        seg.bytes -= seg.lines.slice(0, n).reduce((b, l) => b + l.length, 0);
        seg.lines = seg.lines.slice(n);
      }
      throw err;
    }
    this.#torn = false;
    this.#dirty = true;
    this.#written += seg.lines.length;
  }

  async #openFile(day: string): Promise<OpenFile> {
    const path = join(this.#dir, auditFileName(this.#fileInstance, day));
    const fh = await open(path, 'a+', PRIVATE_FILE_MODE);
    try {
      // A restart after a crash may find a torn last line: the next record must start on a line of its own.
      const { size } = await fh.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        this.#torn = last[0] !== 0x0a;
      } else {
        this.#torn = false;
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    return { day, path, fh };
  }

  async #closeFile(file: OpenFile): Promise<void> {
    try {
      if (this.#dirty) await file.fh.datasync();
      this.#dirty = false;
      this.#lastSync = performance.now();
    } catch (err) {
      this.#logger.error({ err, file: file.path }, 'audit trail: datasync failed');
    } finally {
      await file.fh.close().catch((err: unknown) => this.#logger.error({ err, file: file.path }, 'audit trail: close failed'));
    }
  }

  async #sync(): Promise<void> {
    const file = this.#file;
    if (file === null || !this.#dirty) return;
    try {
      await file.fh.datasync();
      this.#dirty = false;
      this.#lastSync = performance.now();
    } catch (err) {
      this.#logger.error({ err, file: file.path }, 'audit trail: datasync failed');
    }
  }

  #drop(n: number, why: string): void {
    if (n === 0) return;
    this.#dropped += n;
    // Loud but bounded: one error line per 1000 newly dropped records (and the first).
    if (this.#dropped - this.#droppedLogged >= 1000 || this.#droppedLogged === 0) {
      this.#droppedLogged = this.#dropped;
      this.#logger.error({ dropped: this.#dropped, lost: n, dir: this.#dir }, `audit trail: RECORDS LOST (${why})`);
    }
  }

  #track(p: Promise<void>): void {
    this.#background.add(p);
    void p.finally(() => this.#background.delete(p));
  }

  #compressInBackground(path: string): void {
    this.#track(compressFile(path).catch((err: unknown) => this.#logger.error({ err, file: path }, 'audit trail: compression failed; the .jsonl is kept')));
  }

  /** Leftovers of previous days are compressed; files past the retention are deleted. */
  #sweepInBackground(): void {
    const now = this.#now();
    this.#sweepDay = utcDay(now);
    this.#track(this.#sweep(now).catch((err: unknown) => this.#logger.error({ err, dir: this.#dir }, 'audit trail: sweep failed')));
  }

  async #sweep(now: number): Promise<void> {
    const today = utcDay(now);
    const oldestKept = utcDay(now - this.#retentionDays * DAY_MS);
    let deleted = 0;
    const names = await readdir(this.#dir);
    for (const name of names) {
      // A compression that died (first, so that its .jsonl is compressed again below).
      if (!name.endsWith('.gz.tmp') || parseAuditFileName(name.slice(0, -'.tmp'.length)) === null) continue;
      const path = join(this.#dir, name);
      if ((await idleFor(path)) >= LEFTOVER_IDLE_MS) await unlinkQuiet(path);
    }
    for (const name of names) {
      const path = join(this.#dir, name);
      const f = parseAuditFileName(name);
      if (f === null) continue;
      // Every instance's files: default instance ids change per process, so per-instance retention would leak.
      if (f.day < oldestKept) {
        await unlinkQuiet(path);
        deleted++;
        continue;
      }
      if (f.gzip || f.day >= today || this.#file?.path === path) continue;
      const mine = f.instance === this.#fileInstance;
      if (mine || (await idleFor(path)) >= LEFTOVER_IDLE_MS) await compressFile(path).catch((err: unknown) => this.#logger.error({ err, file: path }, 'audit trail: compression failed; the .jsonl is kept'));
    }
    if (deleted > 0) this.#logger.info({ dir: this.#dir, deleted, oldestKept }, 'audit trail: files past retention deleted');
  }
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
