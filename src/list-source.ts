/**
 * Where a list comes from: a local path or an http(s) URL. openSource says whether it changed since the
 * previous read (validators) and, if so, hands over a byte stream for list-read's readListStream.
 * HTTP uses Node's built-in fetch (undici): no extra dependency.
 *
 * The caller must consume or destroy a 'changed' stream (it holds a file handle or a socket).
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { CallgateError, ErrorCode } from './errors.js';

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
    };

export interface OpenSourceOptions {
  /** HTTP only: time allowed until response headers arrive. Body stalls are bounded by undici's own
   * 300 s idle timeout. @default 60000 */
  readonly timeoutMs?: number;
  /** HTTP only: extra request headers (e.g. Authorization). Never logged. @default {} */
  readonly headers?: Readonly<Record<string, string>>;
}

export const DEFAULT_SOURCE_TIMEOUT_MS = 60_000;

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
  return openFile(source, previous?.kind === 'file' ? previous : null);
}

async function openFile(path: string, previous: Extract<SourceValidators, { kind: 'file' }> | null): Promise<SourceOpen> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    // stat the open handle, not the path: the date and size then belong to the bytes we will read.
    const st = await fh.stat();
    if (!st.isFile()) throw new Error('not a regular file');
    const validators: SourceValidators = { kind: 'file', mtimeMs: st.mtimeMs, size: st.size };
    if (previous !== null && previous.mtimeMs === st.mtimeMs && previous.size === st.size) {
      await fh.close();
      return { kind: 'unchanged', validators };
    }
    const stream = fh.createReadStream({ highWaterMark: FILE_CHUNK_BYTES }); // closes the handle when done
    fh = undefined;
    return { kind: 'changed', stream, gzip: path.endsWith('.gz'), sourceDate: st.mtime, validators, label: path };
  } catch (err) {
    await fh?.close().catch(() => undefined);
    throw readError(path, err);
  }
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
  return {
    kind: 'changed',
    stream,
    gzip: isGzipUrl(res.url === '' ? url : res.url) || isGzipType(res.headers.get('content-type')),
    sourceDate: parseHttpDate(lastModified),
    validators: { kind: 'http', etag, lastModified },
    label,
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
  // fetch wraps network failures as "fetch failed" with the useful part in `cause`.
  const base = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return new CallgateError(ErrorCode.LIST_READ, `cannot read list ${label}: ${base}${cause}`, { cause: err });
}
