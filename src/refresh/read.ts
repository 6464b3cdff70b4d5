/**
 * Reads a list file or stream into number keys, streamed: a 15-million-line file is never one string.
 * bytes → (sha256 tap) → gunzip? → text decoder → LineSplitter → ListAccumulator (refresh/parse.ts).
 * Any failure to read (missing file, permissions, corrupt gzip) rejects with CALLGATE_ERR_LIST_READ;
 * bad lines are only counted. A text that does not end with a newline rejects with
 * CALLGATE_ERR_LIST_PARTIAL (a file cut while written ends mid-line), and the two caps bound what a
 * hostile or broken source can cost: decompressed bytes (a gzip bomb) and line length (a 1 GB line).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { CallgateError, ErrorCode, isCallgateError } from '../core/errors.js';
import { ListAccumulator, LineSplitter } from './parse.js';
import type { ListParseResult, Normaliser } from './parse.js';
import type { ListKind } from '../config/list-spec.js';
import { normalise as defaultNormalise } from '../numbers/normalise.js';

export interface ListReadOptions {
  /** Turns a list field into E.164 or null. @default `normalise` from numbers/normalise.ts */
  readonly normalise?: Normaliser;
  /** Expected count of numbers, to size the key buffer once. @default 65536, doubling as needed */
  readonly expectedNumbers?: number;
  /** Names the source in error messages (a path, a URL). @default 'stream' */
  readonly label?: string;
  /** Read consent terms after the number (consent lists). @default false */
  readonly terms?: boolean | undefined;
  /** Most bytes of text (after gunzip) read from one source. @default DEFAULT_READ_LIMITS.maxListBytes */
  readonly maxListBytes?: number | undefined;
  /** Longest line, in characters. @default DEFAULT_READ_LIMITS.maxLineChars */
  readonly maxLineChars?: number | undefined;
  /** The list's kind: what a line with two readings means (refresh/parse.ts AccumulatorOptions). @default 'deny' */
  readonly kind?: ListKind | undefined;
  /** Told the size of each chunk of text once it is parsed (the build worker's pace, refresh/worker-pace.ts). @default none */
  readonly onParsed?: ((bytes: number) => void) | undefined;
}

/** The caps' defaults (config/config.ts's options table says the same numbers through these constants). */
export const DEFAULT_READ_LIMITS = Object.freeze({
  /** 2 GiB: about ten times the French Bloctel list as text; a gzip bomb stops there. */
  maxListBytes: 2 * 1024 ** 3,
  /** 4096: a number with consent terms is well under 300 characters (consent-terms' MAX_TERM_CHARS). */
  maxLineChars: 4096,
});

export interface ListFileOptions extends ListReadOptions {
  /** @default true when the path ends in `.gz` */
  readonly gzip?: boolean;
}

export interface ListStreamOptions extends ListReadOptions {
  readonly gzip: boolean;
}

export interface ListReadResult extends ListParseResult {
  /** Raw bytes read (the compressed size for gzip). */
  readonly bytes: number;
  readonly durationMs: number;
  /** sha256 hex of the raw bytes as read (before gunzip): an unchanged file has the same fingerprint. */
  readonly fingerprint: string;
  /** Bytes of text after gunzip (equal to `bytes` for a plain source). */
  readonly textBytes: number;
  /** The file's mtime (readListFile only). */
  readonly sourceDate?: Date;
}

/** File reads in 1 MiB chunks: per-chunk costs (hash update, decode, generator step) then vanish. */
const FILE_CHUNK_BYTES = 1 << 20;
const GUNZIP_CHUNK_BYTES = 1 << 16;

export async function readListFile(path: string, opts: ListFileOptions = {}): Promise<ListReadResult> {
  const started = performance.now();
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    // stat the open handle, not the path: the date then belongs to the bytes read even if the file is replaced.
    const st = await fh.stat();
    const stream = fh.createReadStream({ highWaterMark: FILE_CHUNK_BYTES });
    const result = await readListStream(stream, {
      ...opts,
      gzip: opts.gzip ?? path.endsWith('.gz'),
      label: opts.label ?? path,
    });
    return { ...result, durationMs: performance.now() - started, sourceDate: st.mtime };
  } catch (err) {
    throw toReadError(err, opts.label ?? path);
  } finally {
    // The stream closes the handle itself; this covers failures before it existed. Closing twice is harmless.
    await fh?.close().catch(() => undefined);
  }
}

export async function readListStream(stream: Readable, opts: ListStreamOptions): Promise<ListReadResult> {
  const started = performance.now();
  const label = opts.label ?? 'stream';
  const hash = createHash('sha256');
  let bytes = 0;
  const acc = new ListAccumulator(opts.normalise ?? defaultNormalise, opts.expectedNumbers, { terms: opts.terms, kind: opts.kind });
  const splitter = new LineSplitter((line) => acc.addLine(line), { maxLineChars: opts.maxLineChars ?? DEFAULT_READ_LIMITS.maxLineChars });
  const text = new TextSniffer();
  const maxListBytes = opts.maxListBytes ?? DEFAULT_READ_LIMITS.maxListBytes;
  let textBytes = 0;

  async function* tap(source: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      hash.update(buf);
      bytes += buf.length;
      yield buf;
    }
  }

  async function sink(source: AsyncIterable<Buffer>): Promise<void> {
    for await (const chunk of source) {
      textBytes += chunk.length;
      // Checked per chunk (at most 1 MiB), so the cap bounds what is decoded, not only what is kept.
      if (textBytes > maxListBytes) throw new CallgateError(ErrorCode.LIST_TOO_LARGE, `list ${label} is larger than ${maxListBytes} bytes of text (the size cap)`);
      splitter.push(text.write(chunk));
      opts.onParsed?.(chunk.length);
    }
    splitter.push(text.end());
    if (splitter.end()) throw new CallgateError(ErrorCode.LIST_PARTIAL, `list ${label} does not end with a newline: it may have been cut while written; refused`);
  }

  try {
    if (opts.gzip) {
      await pipeline(stream, tap, createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES }), sink);
    } else {
      await pipeline(stream, tap, sink);
    }
  } catch (err) {
    throw toReadError(err, label);
  }
  return {
    ...acc.result(),
    bytes,
    textBytes,
    durationMs: performance.now() - started,
    fingerprint: hash.digest('hex'),
  };
}

/**
 * Decodes bytes to text, choosing the encoding from the first two bytes: UTF-16LE when they are its BOM
 * (spreadsheets' "Unicode text" export), UTF-8 otherwise. StringDecoder keeps characters split across
 * chunks whole; the UTF-8 BOM stays in the text and list-parse strips it from line 1.
 */
class TextSniffer {
  #decoder: StringDecoder | undefined;
  #head: Buffer | undefined;

  write(chunk: Buffer): string {
    if (this.#decoder !== undefined) return this.#decoder.write(chunk);
    const buf = this.#head === undefined ? chunk : Buffer.concat([this.#head, chunk]);
    if (buf.length < 2) {
      this.#head = buf;
      return '';
    }
    this.#head = undefined;
    this.#decoder = new StringDecoder(buf[0] === 0xff && buf[1] === 0xfe ? 'utf16le' : 'utf8');
    return this.#decoder.write(buf);
  }

  end(): string {
    if (this.#decoder === undefined) {
      const head = this.#head;
      this.#head = undefined;
      this.#decoder = new StringDecoder('utf8');
      return head === undefined ? this.#decoder.end() : this.#decoder.end(head);
    }
    return this.#decoder.end();
  }
}

function toReadError(err: unknown, label: string): CallgateError {
  if (isCallgateError(err)) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new CallgateError(ErrorCode.LIST_READ, `cannot read list ${label}: ${detail}`, { cause: err });
}
