import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, isCallgateError } from '../../../src/core/errors.js';
import { openSource } from '../../../src/refresh/source.js';
import type { SourceOpen, SourceValidators } from '../../../src/refresh/source.js';
import { readListStream } from '../../../src/refresh/read.js';
import { rejectionCodeOf } from '../../helpers/errors.js';

const FIXTURES = new URL('../../fixtures/', import.meta.url);
const LAST_MODIFIED = 'Sun, 01 Mar 2026 10:00:00 GMT';

let plain: Buffer;
let gz: Buffer;
let server: Server;
let base: string;
/** Request headers seen by the server, per path, in order. */
let seen: Array<{ path: string; headers: IncomingHttpHeaders }>;

type Route = (req: { headers: IncomingHttpHeaders }, res: ServerResponse) => void;
const routes: Record<string, Route> = {
  '/etag.txt': (req, res) => {
    if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"' }).end();
    res.writeHead(200, { etag: '"v1"', 'content-type': 'text/plain' }).end(plain);
  },
  '/lm.txt': (req, res) => {
    if (req.headers['if-modified-since'] === LAST_MODIFIED) return void res.writeHead(304).end();
    res.writeHead(200, { 'last-modified': LAST_MODIFIED }).end(plain);
  },
  '/list.txt.gz': (_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(gz),
  '/export': (_req, res) => res.writeHead(200, { 'content-type': 'application/x-gzip; charset=binary' }).end(gz),
  '/encoded.txt': (_req, res) => res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'text/plain' }).end(gz),
  '/partial.txt': (_req, res) => res.writeHead(206, { 'content-range': 'bytes 0-9/100' }).end(plain.subarray(0, 10)),
  '/unasked-304.txt': (_req, res) => res.writeHead(304).end(),
  '/hang.txt': () => undefined, // never answers
};

beforeAll(async () => {
  plain = await readFile(new URL('plain.txt', FIXTURES));
  gz = gzipSync(plain);
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    seen.push({ path, headers: req.headers });
    const route = routes[path];
    if (route === undefined) return void res.writeHead(404, 'Not Found').end('no');
    route(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
});

async function numbersOf(open: SourceOpen): Promise<number> {
  if (open.kind !== 'changed') throw new Error('expected changed');
  return (await readListStream(open.stream, { gzip: open.gzip, label: open.label })).numbers;
}


let expectedNumbers: number;
beforeAll(async () => {
  expectedNumbers = (await readListStream(Readable.from([plain]), { gzip: false })).numbers;
  expect(expectedNumbers).toBeGreaterThan(0);
});

describe('openSource: http', () => {
  it('200 with ETag, then 304 when asked with If-None-Match', async () => {
    const first = await openSource(`${base}/etag.txt`, null);
    expect(first).toMatchObject({ kind: 'changed', gzip: false, sourceDate: null, label: `${base}/etag.txt` });
    expect(first.validators).toEqual({ kind: 'http', etag: '"v1"', lastModified: null });
    expect(await numbersOf(first)).toBe(expectedNumbers);

    const second = await openSource(`${base}/etag.txt`, first.validators);
    expect(second).toEqual({ kind: 'unchanged', validators: { kind: 'http', etag: '"v1"', lastModified: null } });
    expect(seen[1]?.headers['if-none-match']).toBe('"v1"');
    expect(seen[1]?.headers['if-modified-since']).toBeUndefined();
  });

  it('Last-Modified only: it is the source date, and If-Modified-Since gets a 304', async () => {
    const first = await openSource(`${base}/lm.txt`, null);
    expect(first.kind).toBe('changed');
    if (first.kind !== 'changed') return;
    expect(first.sourceDate?.toISOString()).toBe('2026-03-01T10:00:00.000Z');
    expect(first.validators).toEqual({ kind: 'http', etag: null, lastModified: LAST_MODIFIED });
    first.stream.destroy();

    const second = await openSource(`${base}/lm.txt`, first.validators);
    expect(second).toEqual({ kind: 'unchanged', validators: { kind: 'http', etag: null, lastModified: LAST_MODIFIED } });
    expect(seen[1]?.headers['if-modified-since']).toBe(LAST_MODIFIED);
  });

  it('a URL path ending in .gz is gzip, whatever the Content-Type', async () => {
    const open = await openSource(`${base}/list.txt.gz?token=secret`, null);
    expect(open).toMatchObject({ kind: 'changed', gzip: true, label: `${base}/list.txt.gz` });
    expect(await numbersOf(open)).toBe(expectedNumbers);
  });

  it('Content-Type application/x-gzip is gzip', async () => {
    const open = await openSource(`${base}/export`, null);
    expect(open).toMatchObject({ kind: 'changed', gzip: true });
    expect(await numbersOf(open)).toBe(expectedNumbers);
  });

  it('Content-Encoding: gzip is decoded by fetch (gzip false); Accept-Encoding gzip is sent', async () => {
    const open = await openSource(`${base}/encoded.txt`, null);
    expect(open).toMatchObject({ kind: 'changed', gzip: false });
    expect(await numbersOf(open)).toBe(expectedNumbers);
    expect(seen[0]?.headers['accept-encoding']).toBe('gzip');
  });

  it('sends the configured headers', async () => {
    const open = await openSource(`${base}/etag.txt`, null, { headers: { authorization: 'Bearer t0k' } });
    if (open.kind === 'changed') open.stream.destroy();
    expect(seen[0]?.headers.authorization).toBe('Bearer t0k');
  });

  it('ignores validators of a file', async () => {
    const prev: SourceValidators = { kind: 'file', mtimeMs: 1, size: 1 };
    const open = await openSource(`${base}/etag.txt`, prev);
    expect(open.kind).toBe('changed');
    if (open.kind === 'changed') open.stream.destroy();
    expect(seen[0]?.headers['if-none-match']).toBeUndefined();
  });

  it('404 → CALLGATE_ERR_LIST_READ with the status, without the query string', async () => {
    const err = await openSource(`${base}/missing.txt?token=secret`, null).catch((e: unknown) => e);
    expect(isCallgateError(err, ErrorCode.LIST_READ)).toBe(true);
    expect((err as Error).message).toBe(`cannot read list ${base}/missing.txt: HTTP 404 Not Found`);
  });

  it('206 (a partial list) → CALLGATE_ERR_LIST_READ', async () => {
    expect(await rejectionCodeOf(openSource(`${base}/partial.txt`, null))).toBe(ErrorCode.LIST_READ);
  });

  it('304 without a previous copy → CALLGATE_ERR_LIST_READ', async () => {
    expect(await rejectionCodeOf(openSource(`${base}/unasked-304.txt`, null))).toBe(ErrorCode.LIST_READ);
  });

  it('no headers within timeoutMs → CALLGATE_ERR_LIST_READ', async () => {
    const err = await openSource(`${base}/hang.txt`, null, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(isCallgateError(err, ErrorCode.LIST_READ)).toBe(true);
    expect((err as Error).message).toBe(`cannot read list ${base}/hang.txt: no response headers within 100 ms`);
  });

  it('connection refused → CALLGATE_ERR_LIST_READ', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await rejectionCodeOf(openSource(`http://127.0.0.1:${port}/x.txt`, null))).toBe(ErrorCode.LIST_READ);
  });
});

describe('openSource: local file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'callgate-list-source-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('changed on first read (mtime is the source date), unchanged with the same mtime and size, changed when mtime moves', async () => {
    const path = join(dir, 'plain.txt');
    await copyFile(new URL('plain.txt', FIXTURES), path);
    const mtime = new Date('2026-03-01T10:00:00.000Z');
    await utimes(path, mtime, mtime);

    const first = await openSource(path, null);
    expect(first).toMatchObject({ kind: 'changed', gzip: false, label: path });
    if (first.kind !== 'changed') return;
    expect(first.sourceDate?.toISOString()).toBe('2026-03-01T10:00:00.000Z');
    expect(first.validators).toEqual({ kind: 'file', mtimeMs: mtime.getTime(), size: plain.length });
    expect(await numbersOf(first)).toBe(expectedNumbers);

    expect(await openSource(path, first.validators)).toEqual({ kind: 'unchanged', validators: first.validators });

    const later = new Date('2026-03-02T10:00:00.000Z');
    await utimes(path, later, later);
    const third = await openSource(path, first.validators);
    expect(third.kind).toBe('changed');
    if (third.kind === 'changed') third.stream.destroy();
    expect(third.validators).toEqual({ kind: 'file', mtimeMs: later.getTime(), size: plain.length });
  });

  it('changed when only the size differs', async () => {
    const path = join(dir, 'size.txt');
    await copyFile(new URL('plain.txt', FIXTURES), path);
    const open = await openSource(path, { kind: 'file', mtimeMs: statSync(path).mtimeMs, size: 1 });
    expect(open.kind).toBe('changed');
    if (open.kind === 'changed') open.stream.destroy();
  });

  it('a name ending in .gz is gzip', async () => {
    const path = join(dir, 'plain.txt.gz');
    await copyFile(new URL('plain.txt.gz', FIXTURES), path);
    const open = await openSource(path, null);
    expect(open).toMatchObject({ kind: 'changed', gzip: true });
    expect(await numbersOf(open)).toBe(expectedNumbers);
  });

  it('ignores validators of a URL', async () => {
    const path = join(dir, 'other.txt');
    await copyFile(new URL('plain.txt', FIXTURES), path);
    const open = await openSource(path, { kind: 'http', etag: '"x"', lastModified: null });
    expect(open.kind).toBe('changed');
    if (open.kind === 'changed') open.stream.destroy();
  });

  it('a missing file, a directory, an unsupported scheme → CALLGATE_ERR_LIST_READ', async () => {
    expect(await rejectionCodeOf(openSource(join(dir, 'nope.txt'), null))).toBe(ErrorCode.LIST_READ);
    const sub = join(dir, 'sub');
    await mkdir(sub);
    expect(await rejectionCodeOf(openSource(sub, null))).toBe(ErrorCode.LIST_READ);
    expect(await rejectionCodeOf(openSource('ftp://example.org/list.txt', null))).toBe(ErrorCode.LIST_READ);
  });
});
