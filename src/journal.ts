/**
 * Embedded mode's record of intraday list changes, so they survive a restart: an append-only
 * JSON-lines file. Each change is written (and flushed to disk) before it is acknowledged.
 * `generation` records say which file a list was loaded from: additions made before a *different*
 * file replaced the list are superseded by it; a restart that reloads the same file keeps them.
 */
import { open, readFile, rename, type FileHandle } from 'node:fs/promises';
import type { NumberKey } from './number-key.js';
import { PRIVATE_FILE_MODE } from './private-files.js';

export type JournalEntry =
  | { readonly op: 'add' | 'remove'; readonly list: string; readonly keys: readonly NumberKey[]; readonly who: string; readonly at: number }
  | { readonly op: 'generation'; readonly list: string; readonly fingerprint: string; readonly at: number };

function parseEntry(line: string): JournalEntry | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  const e = v as Record<string, unknown>;
  if (typeof e['list'] !== 'string' || typeof e['at'] !== 'number') return null;
  if ((e['op'] === 'add' || e['op'] === 'remove') && Array.isArray(e['keys']) && e['keys'].every((k) => Number.isSafeInteger(k)) && typeof e['who'] === 'string') {
    return { op: e['op'], list: e['list'], keys: e['keys'] as NumberKey[], who: e['who'], at: e['at'] };
  }
  if (e['op'] === 'generation' && typeof e['fingerprint'] === 'string') return { op: 'generation', list: e['list'], fingerprint: e['fingerprint'], at: e['at'] };
  return null;
}

export class IntradayJournal {
  readonly #path: string;
  #fh: FileHandle;
  #entries: JournalEntry[];
  /** Serialises appends and compactions. */
  #queue: Promise<void> = Promise.resolve();

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
      const e = parseEntry(line);
      if (e === null) skipped++;
      else entries.push(e);
    }
    const fh = await open(path, 'a', PRIVATE_FILE_MODE);
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
      if (e.list === list && e.op === 'generation') return e.fingerprint;
    }
    return null;
  }

  append(entry: JournalEntry): Promise<void> {
    const run = this.#queue.then(async () => {
      await this.#fh.write(`${JSON.stringify(entry)}\n`);
      await this.#fh.datasync();
      this.#entries.push(entry);
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Records that a list was replaced by a new file and drops what that file supersedes (its changes
   * made before `at`), rewriting the journal atomically (write a copy, then rename).
   */
  replaced(list: string, fingerprint: string, at: number): Promise<void> {
    const run = this.#queue.then(async () => {
      const kept = this.#entries.filter((e) => e.list !== list || (e.op !== 'generation' && e.at >= at));
      kept.push({ op: 'generation', list, fingerprint, at });
      const tmp = `${this.#path}.tmp`;
      const out = await open(tmp, 'w', PRIVATE_FILE_MODE);
      try {
        await out.write(kept.map((e) => `${JSON.stringify(e)}\n`).join(''));
        await out.datasync();
      } finally {
        await out.close();
      }
      await this.#fh.close();
      await rename(tmp, this.#path);
      this.#fh = await open(this.#path, 'a', PRIVATE_FILE_MODE);
      this.#entries = kept;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Every add/remove of a list since it was last replaced, in order (to rebuild its additions). */
  changes(list: string): Extract<JournalEntry, { op: 'add' | 'remove' }>[] {
    const out: Extract<JournalEntry, { op: 'add' | 'remove' }>[] = [];
    for (const e of this.#entries) if (e.list === list && e.op !== 'generation') out.push(e);
    return out;
  }

  async close(): Promise<void> {
    await this.#queue;
    await this.#fh.close();
  }
}
