/**
 * Where a list comes from: a local path or an http(s) URL. openSource says whether it changed since the
 * previous read (validators) and, if so, hands over a byte stream for list-read's readListStream.
 * HTTP uses Node's built-in fetch (undici): no extra dependency.
 *
 * The caller must consume or destroy a 'changed' stream (it holds a file handle or a socket), then call
 * its `verify` with what it read: a partial list must never be installed (issue 11). A file is read
 * only once it has not changed for the settle time, and must be the same file (inode, size, mtime)
 * after the read, with exactly its size read; a manifest beside it (refresh/manifest.ts) is honoured.
 * An HTTP body must be as long as its Content-Length.
 */
import { open, readFile, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { CallgateError, ErrorCode, isCallgateError } from '../core/errors.js';
import { checkManifest, manifestPathOf, MAX_MANIFEST_BYTES, parseManifest, type ListManifest } from './manifest.js';

/** What tells us a source changed. A validator of the other kind (the source moved from file to URL) is ignored. */
export type SourceValidators =
  | { readonly kind: 'file'; readonly mtimeMs: number; readonly size: number }
  | { readonly kind: 'http'; readonly etag: string | null; readonly lastModified: string | null };

export type SourceOpen =
  | { readonly kind: 'unchanged'; readonly validators: SourceValidators }
  | {
      readonly kind: 'changed';
      readonly stream: Readable;
      /** The bytes are a gzip file (by name or Content-Type), to be gunzipped by the reader. */
      readonly gzip: boolean;
      /**
       * The source's own date: the file's mtime, or HTTP Last-Modified. Null when the server sent none:
       * the caller then dates the list by its fetch time and says so (refresh-guards' AgeBasis).
       */
      readonly sourceDate: Date | null;
      readonly validators: SourceValidators;
      /** For logs and errors: the path, or the URL without credentials or query string (tokens). */
      readonly label: string;
      /** After the stream was read: rejects (CALLGATE_ERR_LIST_PARTIAL / _MANIFEST) when what was read may be partial. */
      readonly verify: (read: ReadFacts) => Promise<void>;
    };

/** What the reader saw, for `verify`. */
export interface ReadFacts {
  /** Raw bytes read (compressed size for gzip). */
  readonly bytes: number;
  readonly lines: number;
  /** sha256 hex of the raw bytes. */
  readonly fingerprint: string;
}

export interface OpenSourceOptions {
  /** HTTP only: time allowed until response headers arrive. Body stalls are bounded by undici's own
   * 300 s idle timeout. @default 60000 */
  readonly timeoutMs?: number;
  /** HTTP only: extra request headers (e.g. Authorization). Never logged. @default {} */
  readonly headers?: Readonly<Record<string, string>>;
  /** Files only: read once the file has not changed for this long. @default DEFAULT_SETTLE_MS */
  readonly settleMs?: number;
}

export const DEFAULT_SOURCE_TIMEOUT_MS = 60_000;

/**
 * 10 s: a nightly export writes continuously, and is read hours later (no wait then: its mtime is old);
 * a file written a moment ago waits until it has been still this long.
 */
export const DEFAULT_SETTLE_MS = 10_000;

/** A file that keeps changing is given up on (CALLGATE_ERR_LIST_UNSETTLED) after this many settle times (+1 min). */
const SETTLE_GIVE_UP_FACTOR = 6;

/** 1 MiB reads: per-chunk costs downstream (hash, decode) then vanish; as list-read does. */
const FILE_CHUNK_BYTES = 1 << 20;

export function isUrlSource(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

export async function openSource(
  source: string,
  previous: SourceValidators | null,
  opts: OpenSourceOptions = {},
): Promise<SourceOpen> {
  if (isUrlSource(source)) return openHttp(source, previous?.kind === 'http' ? previous : null, opts);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    throw new CallgateError(ErrorCode.LIST_READ, `cannot read list ${source}: only local paths and http(s) URLs are supported`);
  }
  return openFile(source, previous?.kind === 'file' ? previous : null, opts.settleMs ?? DEFAULT_SETTLE_MS);
}

async function openFile(path: string, previous: Extract<SourceValidators, { kind: 'file' }> | null, settleMs: number): Promise<SourceOpen> {
  let fh: FileHandle | undefined;
  try {
    const settled = await waitSettled(path, settleMs);
    fh = await open(path, 'r');
    // stat the open handle, not the path: the date and size then belong to the bytes we will read.
    const st = await fh.stat();
    if (!st.isFile()) throw new Error('not a regular file');
    if (!sameFile(settled, st)) throw new CallgateError(ErrorCode.LIST_UNSETTLED, `list ${path} changed while it was being opened; it is still being written`);
    const validators: SourceValidators = { kind: 'file', mtimeMs: st.mtimeMs, size: st.size };
    if (previous !== null && previous.mtimeMs === st.mtimeMs && previous.size === st.size) {
      await fh.close();
      return { kind: 'unchanged', validators };
    }
    const manifest = await readManifest(path);
    const stream = fh.createReadStream({ highWaterMark: FILE_CHUNK_BYTES }); // closes the handle when done
    fh = undefined;
    const verify = async (read: ReadFacts): Promise<void> => {
      // The same file, unchanged, read whole: an in-place rewrite or a rename during the read shows here.
      const after = await stat(path).catch(() => null);
      if (after === null || !sameFile(st, after) || read.bytes !== st.size) {
        throw new CallgateError(ErrorCode.LIST_PARTIAL, `list ${path} changed while it was read (${read.bytes} of ${st.size} bytes read); refused, it is being written`);
      }
      if (manifest !== null) checkManifest(manifest, read, path);
    };
    return { kind: 'changed', stream, gzip: path.endsWith('.gz'), sourceDate: st.mtime, validators, label: path, verify };
  } catch (err) {
    await fh?.close().catch(() => undefined);
    throw readError(path, err);
  }
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/**
 * Waits until the file has not changed for settleMs: by its mtime when that is old enough (no wait for
 * a nightly file read hours later), else by watching size, mtime and inode stay still that long
 * (an mtime in the future, clock skew, never counts as old).
 */
async function waitSettled(path: string, settleMs: number): Promise<Stats> {
  const started = Date.now();
  const giveUpAt = started + settleMs * SETTLE_GIVE_UP_FACTOR + 60_000;
  let seen = await stat(path);
  let stillSince = Date.now();
  for (;;) {
    const now = Date.now();
    const quietByMtime = now - seen.mtimeMs;
    if (quietByMtime >= settleMs || now - stillSince >= settleMs) return seen;
    if (now >= giveUpAt) throw new CallgateError(ErrorCode.LIST_UNSETTLED, `list ${path} kept changing for ${Math.round((now - started) / 1000)} s; not read while it is being written`);
    const waitMs = Math.max(10, Math.min(settleMs - Math.max(0, quietByMtime), settleMs - (now - stillSince), 1000));
    await sleep(waitMs);
    const next = await stat(path);
    if (!sameFile(seen, next)) {
      seen = next;
      stillSince = Date.now();
    }
  }
}

/** The manifest beside a list file, or null when there is none. */
async function readManifest(path: string): Promise<ListManifest | null> {
  const mpath = manifestPathOf(path);
  let text: string;
  try {
    const st = await stat(mpath);
    if (st.size > MAX_MANIFEST_BYTES) throw new CallgateError(ErrorCode.LIST_MANIFEST, `manifest ${mpath} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    text = await readFile(mpath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (isCallgateError(err)) throw err;
    throw new CallgateError(ErrorCode.LIST_MANIFEST, `cannot read manifest ${mpath}: ${(err as Error).message}`, { cause: err });
  }
  return parseManifest(text, path);
}

async function openHttp(
  url: string,
  previous: Extract<SourceValidators, { kind: 'http' }> | null,
  opts: OpenSourceOptions,
): Promise<SourceOpen> {
  const label = redact(url);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS;
  const headers = new Headers(opts.headers);
  // Transfer compression: fetch decodes Content-Encoding itself, so the stream is plain bytes.
  if (!headers.has('accept-encoding')) headers.set('accept-encoding', 'gzip');
  if (previous?.etag != null) headers.set('if-none-match', previous.etag);
  if (previous?.lastModified != null) headers.set('if-modified-since', previous.lastModified);

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no response headers within ${timeoutMs} ms`)), timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: controller.signal, redirect: 'follow' });
  } catch (err) {
    throw readError(label, err);
  } finally {
    // The limit is for headers only: a 12-million-line body may take a while.
    clearTimeout(timer);
  }

  const etag = res.headers.get('etag');
  const lastModified = res.headers.get('last-modified');
  if (res.status === 304) {
    await res.body?.cancel().catch(() => undefined);
    if (previous === null) throw readError(label, new Error('HTTP 304 but there is no previous copy'));
    return {
      kind: 'unchanged',
      validators: { kind: 'http', etag: etag ?? previous.etag, lastModified: lastModified ?? previous.lastModified },
    };
  }
  // Only 200 is the whole list: a 206 would be a truncated one, a 204 an empty one.
  if (res.status !== 200 || res.body === null) {
    await res.body?.cancel().catch(() => undefined);
    throw readError(label, new Error(`HTTP ${res.status}${res.statusText === '' ? '' : ` ${res.statusText}`}`));
  }

  const stream = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  // fetch decodes a Content-Encoding, and Content-Length then counts the encoded bytes: it can only be
  // compared when the body came as is (an encoded one is checked by its own gzip trailer).
  const encoding = (res.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  const declared = res.headers.get('content-length');
  const expectedBytes = encoding === 'identity' && declared !== null && /^\d+$/.test(declared.trim()) ? Number(declared.trim()) : null;
  const verify = async (read: ReadFacts): Promise<void> => {
    if (expectedBytes !== null && read.bytes !== expectedBytes) {
      throw new CallgateError(ErrorCode.LIST_PARTIAL, `list ${label}: ${read.bytes} bytes received, Content-Length said ${expectedBytes}; refused`);
    }
  };
  return {
    kind: 'changed',
    stream,
    gzip: isGzipUrl(res.url === '' ? url : res.url) || isGzipType(res.headers.get('content-type')),
    sourceDate: parseHttpDate(lastModified),
    validators: { kind: 'http', etag, lastModified },
    label,
    verify,
  };
}

/** By the path of the URL actually served (after redirects), query string ignored. */
function isGzipUrl(url: string): boolean {
  try {
    return new URL(url).pathname.toLowerCase().endsWith('.gz');
  } catch {
    return false;
  }
}

function isGzipType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const type = contentType.split(';', 1)[0]?.trim().toLowerCase();
  return type === 'application/gzip' || type === 'application/x-gzip';
}

function parseHttpDate(value: string | null): Date | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms);
}

/** A list's source as it may be shown (logs, `callgate why`): a path as is, a URL without credentials or query. */
export function sourceLabel(source: string): string {
  return isUrlSource(source) ? redact(source) : source;
}

/** Credentials and query strings (signed URLs, tokens) stay out of logs and error messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}

function readError(label: string, err: unknown): CallgateError {
  if (isCallgateError(err)) return err;
  // fetch wraps network failures as "fetch failed" with the useful part in `cause`.
  const base = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return new CallgateError(ErrorCode.LIST_READ, `cannot read list ${label}: ${base}${cause}`, { cause: err });
}
