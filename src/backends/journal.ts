/**
 * The record of intraday list changes kept on this host's disk, so they survive a restart (embedded mode)
 * or a Redis that lost its data (Redis mode: every sidecar keeps the fleet's change stream here, plus the
 * refusals and attempts it recorded itself, and the fleet epoch it last saw). An append-only JSON-lines file;
 * each record is written (and flushed to disk) before the call that appends it resolves; records no caller waits
 * on (appendSoon) may wait a few ms for others to share their flush.
 * `generation` records say which file a list was loaded from: additions made before a *different*
 * file replaced the list are superseded by it; a restart that reloads the same file keeps them.
 *
 * Versioned (JOURNAL_VERSION): a file starts with a `version` record; a file without one is version 1
 * (add/remove/generation only). A file of a newer version is refused (CALLGATE_ERR_JOURNAL_FORMAT):
 * reading it with older rules could drop an opt-out.
 */
import { open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { NumberKey } from '../numbers/number-key.js';
import { PRIVATE_FILE_MODE } from '../core/private-files.js';

/** The journal format this build writes. 1: no version record; 2: version, supersede, refusal, attempt, epoch. */
export const JOURNAL_VERSION = 2;

export type ChangeEntry = { readonly op: 'add' | 'remove'; readonly list: string; readonly keys: readonly NumberKey[]; readonly who: string; readonly at: number };

export type JournalEntry =
  | ChangeEntry
  | { readonly op: 'generation'; readonly list: string; readonly fingerprint: string; readonly at: number }
  /** Redis mode: the list's additions made before `at` were superseded by a newer file generation. */
  | { readonly op: 'supersede'; readonly list: string; readonly at: number }
  /** Redis mode: a refusal this sidecar recorded; no call until `until` (ms). */
  | { readonly op: 'refusal'; readonly key: NumberKey; readonly at: number; readonly until: number }
  /** Redis mode: an attempt this sidecar counted, with its member in the attempts set (re-published as is). */
  | { readonly op: 'attempt'; readonly key: NumberKey; readonly at: number; readonly member: string }
  /** Redis mode: the fleet epoch this sidecar last saw under this key prefix. */
  | { readonly op: 'epoch'; readonly epoch: string; readonly prefix: string; readonly at: number };

type Fields = Record<string, unknown>;

const isKey = (k: unknown): k is NumberKey => Number.isSafeInteger(k) && (k as number) > 0;
const isTime = (t: unknown): t is number => typeof t === 'number' && Number.isFinite(t);

function parseEntry(e: Fields): JournalEntry | null {
  if (!isTime(e['at'])) return null;
  const at = e['at'];
  switch (e['op']) {
    case 'add':
    case 'remove':
      if (typeof e['list'] === 'string' && Array.isArray(e['keys']) && e['keys'].every((k) => Number.isSafeInteger(k)) && typeof e['who'] === 'string') {
        return { op: e['op'], list: e['list'], keys: e['keys'] as NumberKey[], who: e['who'], at };
      }
      return null;
    case 'generation':
      return typeof e['list'] === 'string' && typeof e['fingerprint'] === 'string' ? { op: 'generation', list: e['list'], fingerprint: e['fingerprint'], at } : null;
    case 'supersede':
      return typeof e['list'] === 'string' ? { op: 'supersede', list: e['list'], at } : null;
    case 'refusal':
      return isKey(e['key']) && isTime(e['until']) ? { op: 'refusal', key: e['key'], at, until: e['until'] } : null;
    case 'attempt':
      return isKey(e['key']) && typeof e['member'] === 'string' ? { op: 'attempt', key: e['key'], at, member: e['member'] } : null;
    case 'epoch':
      return typeof e['epoch'] === 'string' && typeof e['prefix'] === 'string' ? { op: 'epoch', epoch: e['epoch'], prefix: e['prefix'], at } : null;
    default:
      return null;
  }
}

function parseLine(line: string): Fields | null {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Fields) : null;
  } catch {
    return null;
  }
}

const VERSION_LINE = `${JSON.stringify({ op: 'version', v: JOURNAL_VERSION })}\n`;

/**
 * How long a record nobody waits on (appendSoon) may wait for others to share its write and datasync. At 1k
 * counted dials/s each attempt paid its own flush: ~170 µs of CPU (write, datasync, their promises), more than
 * the whole rules check. bench/journal-cost.ts, 2026-12-03, µs per record over the bare 1 ms timer: 5 ms ~80,
 * 20 ms ~15-30, 50 ms ~10 (issue 17). The audit trail accepts ~1.2 s (audit/writer.ts); this copy, 20 ms.
 */
export const SOON_FLUSH_MS = 20;

export class IntradayJournal {
  readonly #path: string;
  #fh: FileHandle;
  #entries: JournalEntry[];
  /** Serialises appends and compactions. */
  #queue: Promise<void> = Promise.resolve();
  /** Records waiting for the next write. */
  #pending: { entry: JournalEntry; resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** A flush is queued that has not taken #pending yet: a record appended now goes with it. */
  #flushQueued = false;
  /** Set while records of appendSoon wait for their flush. */
  #soon: NodeJS.Timeout | undefined;
  #appended = 0;
  /** Set by close(): later records are refused with a code, not written to a closed handle (EBADF). */
  #closed = false;

  private constructor(path: string, fh: FileHandle, entries: JournalEntry[]) {
    this.#path = path;
    this.#fh = fh;
    this.#entries = entries;
  }

  /** Opens (or creates) the journal; unreadable lines (a torn last write) are skipped and counted. */
  static async open(path: string): Promise<{ journal: IntradayJournal; entries: readonly JournalEntry[]; skipped: number }> {
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const entries: JournalEntry[] = [];
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const fields = parseLine(line);
      if (fields !== null && fields['op'] === 'version') {
        const v = fields['v'];
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v > JOURNAL_VERSION) {
          throw new CallgateError(
            ErrorCode.JOURNAL_FORMAT,
            `journal ${path} is format version ${JSON.stringify(v)}; this build reads versions up to ${JOURNAL_VERSION}: upgrade callgate (the file is left as is)`,
          );
        }
        continue;
      }
      const e = fields === null ? null : parseEntry(fields);
      if (e === null) skipped++;
      else entries.push(e);
    }
    const fh = await open(path, 'a', PRIVATE_FILE_MODE);
    if (text.length === 0) {
      await fh.write(VERSION_LINE);
      await fh.datasync();
    }
    // A torn last write has no newline: end it, or the next append would be glued to it and lost on replay.
    if (text.length > 0 && !text.endsWith('\n')) {
      await fh.write('\n');
      await fh.datasync();
    }
    return { journal: new IntradayJournal(path, fh, entries), entries, skipped };
  }

  /** The fingerprint of the file a list was last loaded from, per the journal. */
  lastFingerprint(list: string): string | null {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i] as JournalEntry;
      if (e.op === 'generation' && e.list === list) return e.fingerprint;
    }
    return null;
  }

  /** Records appended since the file was last rewritten (a compaction is due when this grows large). */
  get appendedSinceRewrite(): number {
    return this.#appended;
  }

  /** Every record held, oldest first. */
  entries(): readonly JournalEntry[] {
    return this.#entries;
  }

  /**
   * Appends one record, durable when it resolves. Records appended while a write is in flight go to disk
   * together in the next write (one datasync for all of them), so a busy sidecar does not pay one flush each.
   */
  append(entry: JournalEntry): Promise<void> {
    if (this.#closed) return this.#refuseClosed();
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ entry, resolve, reject });
      this.#queueFlush();
    });
  }

  /**
   * Appends one record that no caller waits on (a refusal or an attempt this sidecar recorded: Redis holds it,
   * this copy serves after a wipe), durable when it resolves: written with the next flush, at the latest
   * SOON_FLUSH_MS from now, so that one datasync carries several such records.
   */
  appendSoon(entry: JournalEntry): Promise<void> {
    if (this.#closed) return this.#refuseClosed();
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ entry, resolve, reject });
      if (this.#flushQueued || this.#soon !== undefined) return;
      this.#soon = setTimeout(() => this.#queueFlush(), SOON_FLUSH_MS);
    });
  }

  /** Queues a flush of #pending behind the writes before it, unless one is queued already; it takes the records waiting for appendSoon's delay too. */
  #queueFlush(): void {
    if (this.#soon !== undefined) {
      clearTimeout(this.#soon);
      this.#soon = undefined;
    }
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    const run = this.#queue.then(() => this.#flush());
    this.#queue = run.catch(() => undefined);
  }

  async #flush(): Promise<void> {
    this.#flushQueued = false;
    const batch = this.#pending;
    this.#pending = [];
    try {
      await this.#fh.write(batch.map((p) => `${JSON.stringify(p.entry)}\n`).join(''));
      await this.#fh.datasync();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) {
      this.#entries.push(p.entry);
      p.resolve();
    }
    this.#appended += batch.length;
  }

  /** Replaces the whole file with these records (atomically: write a copy, then rename). */
  rewrite(entries: readonly JournalEntry[]): Promise<void> {
    if (this.#closed) return this.#refuseClosed();
    // Records waiting for their flush go first, as they would have without the wait: the copy is of them too.
    if (this.#soon !== undefined) this.#queueFlush();
    const run = this.#queue.then(() => this.#rewrite([...entries]));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #rewrite(kept: JournalEntry[]): Promise<void> {
    const tmp = `${this.#path}.tmp`;
    const out = await open(tmp, 'w', PRIVATE_FILE_MODE);
    try {
      await out.write(VERSION_LINE + kept.map((e) => `${JSON.stringify(e)}\n`).join(''));
      await out.datasync();
    } finally {
      await out.close();
    }
    await this.#fh.close();
    await rename(tmp, this.#path);
    this.#fh = await open(this.#path, 'a', PRIVATE_FILE_MODE);
    this.#entries = kept;
    this.#appended = 0;
  }

  /**
   * Records that a list was replaced by a new file and drops what that file supersedes (its changes
   * made before `at`), rewriting the journal atomically (write a copy, then rename).
   */
  replaced(list: string, fingerprint: string, at: number): Promise<void> {
    if (this.#closed) return this.#refuseClosed();
    if (this.#soon !== undefined) this.#queueFlush();
    const run = this.#queue.then(async () => {
      const kept = this.#entries.filter((e) => !('list' in e) || e.list !== list || (e.op !== 'generation' && e.at >= at));
      kept.push({ op: 'generation', list, fingerprint, at });
      await this.#rewrite(kept);
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Every add/remove of a list since it was last replaced, in order (to rebuild its additions). */
  changes(list: string): ChangeEntry[] {
    const out: ChangeEntry[] = [];
    for (const e of this.#entries) if ((e.op === 'add' || e.op === 'remove') && e.list === list) out.push(e);
    return out;
  }

  #refuseClosed(): Promise<void> {
    return Promise.reject(new CallgateError(ErrorCode.JOURNAL_CLOSED, `journal ${this.#path} is closed: the record was not written`));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#soon !== undefined) this.#queueFlush();
    await this.#queue;
    await this.#fh.close();
  }
}
