/**
 * The durable record of what each list last installed (embedded mode): its count, the fingerprint of
 * its file, and the fingerprint of a file an operator forced in. Start-up has no generation in memory
 * to compare a file with; this record is what lets it apply the shrink guard, so a restart while a
 * file is 20% written does not serve 20% of the list (issue 11), and lets a `--force` acceptance hold
 * across restarts for that exact file and no other.
 *
 * One small JSON file beside the journal, replaced atomically (temporary file, fsync, rename), mode 0600.
 * Versioned: this build reads version 1; a newer version or an unreadable file fails closed (start-up
 * refuses to judge a file without its baseline, and says so).
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CallgateError, ErrorCode } from '../core/errors.js';

export const LIST_RECORD_VERSION = 1;

export interface InstalledList {
  readonly count: number;
  /** sha256 of the file installed. */
  readonly fingerprint: string;
  /** The file an operator forced past the guards: remembered for that exact file only. */
  readonly forcedFingerprint: string | null;
  readonly installedAt: string;
}

/** What the record says of one list. */
export type Baseline =
  | { readonly kind: 'known'; readonly list: InstalledList }
  /** Nothing recorded for this list, and nothing says it was ever installed (first start, a new list). */
  | { readonly kind: 'none' }
  /** Nothing recorded, yet the list was installed before (e.g. the journal knows its file): the count was lost. */
  | { readonly kind: 'lost' }
  /** The record exists but cannot be read by this build: fail closed. */
  | { readonly kind: 'unreadable'; readonly why: string };

/** Where the last installed generation of each list is remembered (file in embedded mode, Redis in Redis mode). */
export interface InstalledLists {
  baseline(list: string): Promise<Baseline>;
  /** Remembers an installed generation; rejects when it cannot be made durable. */
  remember(list: string, installed: InstalledList): Promise<void>;
}

interface RecordFile {
  readonly format: 'callgate-lists';
  readonly version: number;
  readonly lists: Record<string, InstalledList>;
}

/** The file beside the journal (`<journal>.lists.json`). */
export function recordPathOf(journalPath: string): string {
  return `${journalPath}.lists.json`;
}

export class ListRecordFile implements InstalledLists {
  readonly #path: string;
  #lists: Record<string, InstalledList> = {};
  #unreadable: string | null = null;
  /** Writes one at a time, in order. */
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string) {
    this.#path = path;
  }

  static async open(path: string): Promise<ListRecordFile> {
    const rec = new ListRecordFile(path);
    let text: string | null;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CallgateError(ErrorCode.LIST_RECORD, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
      text = null;
    }
    if (text !== null) {
      const parsed = parseRecord(text);
      if (typeof parsed === 'string') rec.#unreadable = `${path}: ${parsed}`;
      else rec.#lists = { ...parsed.lists };
    }
    return rec;
  }

  async baseline(list: string): Promise<Baseline> {
    if (this.#unreadable !== null) return { kind: 'unreadable', why: this.#unreadable };
    const known = Object.hasOwn(this.#lists, list) ? this.#lists[list] : undefined;
    return known === undefined ? { kind: 'none' } : { kind: 'known', list: known };
  }

  remember(list: string, installed: InstalledList): Promise<void> {
    const run = this.#writing.then(async () => {
      const lists = { ...this.#lists, [list]: installed };
      await writeAtomically(this.#path, `${JSON.stringify({ format: 'callgate-lists', version: LIST_RECORD_VERSION, lists } satisfies RecordFile)}\n`);
      this.#lists = lists;
      // A good write replaces an unreadable file: the operator forced a list in, the baseline is known again.
      this.#unreadable = null;
    });
    this.#writing = run.catch(() => undefined);
    return run;
  }
}

/** The parsed record, or why it cannot be read. */
function parseRecord(text: string): RecordFile | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (raw === null || typeof raw !== 'object') return 'not a JSON object';
  const r = raw as Partial<RecordFile>;
  if (r.format !== 'callgate-lists') return `unknown format ${JSON.stringify(r.format)}`;
  if (typeof r.version !== 'number') return 'no version';
  if (r.version > LIST_RECORD_VERSION) return `version ${r.version} is newer than this build's (${LIST_RECORD_VERSION}); upgrade callgate`;
  if (r.version !== LIST_RECORD_VERSION) return `unknown version ${r.version}`;
  if (r.lists === null || typeof r.lists !== 'object') return 'no lists';
  const lists: Record<string, InstalledList> = {};
  for (const [name, v] of Object.entries(r.lists)) {
    const e = v as Partial<InstalledList> | null;
    if (e === null || typeof e !== 'object' || !Number.isSafeInteger(e.count) || (e.count as number) < 0 || typeof e.fingerprint !== 'string') return `bad entry for list ${JSON.stringify(name)}`;
    lists[name] = {
      count: e.count as number,
      fingerprint: e.fingerprint,
      forcedFingerprint: typeof e.forcedFingerprint === 'string' ? e.forcedFingerprint : null,
      installedAt: typeof e.installedAt === 'string' ? e.installedAt : '',
    };
  }
  return { format: 'callgate-lists', version: r.version, lists };
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new CallgateError(ErrorCode.LIST_RECORD, `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
  // The rename itself is durable once the folder is synced (ext4 and others).
  const dir = await open(dirname(path), 'r').catch(() => null);
  if (dir !== null) {
    await dir.sync().catch(() => undefined);
    await dir.close().catch(() => undefined);
  }
}
