/**
 * The audit trail's writer: one JSON line per decision (audit/record.ts), appended to the file of its UTC
 * day (audit/rotation.ts names it), so that an inspector's question — "show that each call to this number
 * was checked: which list versions, which rule allowed it, when" — has an answer (DOMAIN.md "Proof"; loi
 * 2025-594 art. 13 puts the proof of consent on the caller). It is the one place phone numbers are written.
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
 * gzipped as a stream (rotation.ts compressFile). At open and once a day a sweep (rotation.ts sweepAuditDir)
 * compresses leftovers of previous days (a crash) and deletes files older than the retention.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../core/private-files.js';
import { DAY_MS } from '../core/time.js';
import { encodeAuditEvent, instanceTail, recordLine, type AuditEvent } from './record.js';
import { auditFileName, compressFile, sanitiseInstanceId, sweepAuditDir, utcDay } from './rotation.js';

/** 16 Mi chars of lines: ~64k records at ~250 bytes, a few seconds of saturation, tens of MB of heap at most. */
export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

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

export class AuditLog {
  readonly #dir: string;
  readonly #fileInstance: string;
  /** `,"instance":"…"}\n`, serialised once (record.ts instanceTail). */
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
    this.#tail = instanceTail(options.instanceId);
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
    return this.writeJson(encodeAuditEvent(event));
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
    return this.#take(recordLine(json, this.#tail));
  }

  /**
   * writeJson() of `open` + `}`: one event serialised as a JSON object without its closing brace (audit/record.ts
   * encodeCheckRecordOpen). The line is `open` and the instance tail, the same bytes, without the copy that cutting
   * the brace off a record built from fragments makes.
   */
  writeJsonOpen(open: string): boolean {
    if (this.#closed) {
      this.#drop(1, 'write after close');
      return false;
    }
    return this.#take(open + this.#tail);
  }

  /** Buffers one file line (or refuses it at the bound). */
  #take(line: string): boolean {
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
    this.#track(sweepAuditDir({ dir: this.#dir, now, retentionDays: this.#retentionDays, fileInstance: this.#fileInstance, openPath: () => this.#file?.path, logger: this.#logger }).catch((err: unknown) => this.#logger.error({ err, dir: this.#dir }, 'audit trail: sweep failed')));
  }
}
