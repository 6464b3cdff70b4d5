/**
 * The scrub's result files, each written to a temporary file beside its final name and renamed into
 * place only once complete and synced: a scrub that crashes or fails leaves no file that looks done
 * (its temporaries are removed when it fails; a killed process leaves only `*.tmp-*` names).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';

export class OutputFile {
  readonly path: string;
  readonly #tmp: string;
  readonly #fh: FileHandle;
  #bytes = 0;

  private constructor(path: string, tmp: string, fh: FileHandle) {
    this.path = path;
    this.#tmp = tmp;
    this.#fh = fh;
  }

  /** Creates the temporary file (`mode`: the input's, so the results are as private as the leads). */
  static async create(path: string, mode: number): Promise<OutputFile> {
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const fh = await open(tmp, 'wx', mode);
    return new OutputFile(path, tmp, fh);
  }

  get bytes(): number {
    return this.#bytes;
  }

  async write(data: Buffer): Promise<void> {
    if (data.length === 0) return;
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await this.#fh.write(data, off, data.length - off);
      off += bytesWritten;
    }
    this.#bytes += data.length;
  }

  /** Syncs, closes and renames into place. */
  async commit(): Promise<void> {
    await this.#fh.sync();
    await this.#fh.close();
    await rename(this.#tmp, this.path);
  }

  /** Closes and removes the temporary file (a failed scrub). Never throws. */
  async discard(): Promise<void> {
    await this.#fh.close().catch(() => undefined);
    await unlink(this.#tmp).catch(() => undefined);
  }
}
