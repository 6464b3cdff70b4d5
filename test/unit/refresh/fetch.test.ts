/**
 * list-fetch: the read path every list takes (file settle, same file after the read, manifest; HTTP
 * Content-Length), and list-read's framing rules and caps (no final newline, line length, decompressed size).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/core/errors.js';
import { fetchList } from '../../../src/refresh/fetch.js';
import { checkManifest, parseManifest } from '../../../src/refresh/manifest.js';
import { readListStream } from '../../../src/refresh/read.js';
import { ListRecordFile, LIST_RECORD_VERSION } from '../../../src/refresh/install-record.js';
import { tempDir } from '../../helpers/service.js';
import { rejectionCodeOf } from '../../helpers/errors.js';


describe('list-read framing and caps', () => {
  it('refuses a text whose last line has no newline (LIST_PARTIAL), also after gunzip', async () => {
    expect(await rejectionCodeOf(readListStream(Readable.from([Buffer.from('0612345678\n06123')]), { gzip: false }))).toBe(ErrorCode.LIST_PARTIAL);
    expect(await rejectionCodeOf(readListStream(Readable.from([gzipSync('0612345678\n0612345679')]), { gzip: true }))).toBe(ErrorCode.LIST_PARTIAL);
    const ok = await readListStream(Readable.from([Buffer.from('0612345678\r\n')]), { gzip: false });
    expect(ok.numbers).toBe(1);
  });

  it('refuses a line over the cap as soon as it is seen (a 64 MiB line, never held whole)', async () => {
    const chunk = Buffer.alloc(1 << 20, 0x39);
    let sent = 0;
    const endless = new Readable({
      read() {
        sent++;
        this.push(sent > 64 ? null : chunk);
      },
    });
    expect(await rejectionCodeOf(readListStream(endless, { gzip: false, maxLineChars: 4096 }))).toBe(ErrorCode.LIST_LINE_TOO_LONG);
    // Stopped at the first chunk or two, not after reading all 64.
    expect(sent).toBeLessThan(8);
  });

  it('refuses a gzip bomb at the decompressed-size cap (LIST_TOO_LARGE)', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x0a), { level: 9 });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    expect(await rejectionCodeOf(readListStream(Readable.from([bomb]), { gzip: true, maxListBytes: 4 * 1024 * 1024 }))).toBe(ErrorCode.LIST_TOO_LARGE);
  });
});

describe('list manifest', () => {
  const sha = 'a'.repeat(64);
  it('parses lines= and sha256=, ignores comments; refuses unknown keys and empty manifests', () => {
    expect(parseManifest(`# x\nlines=3\nsha256=${sha.toUpperCase()}\n`, 'f')).toEqual({ lines: 3, sha256: sha });
    for (const bad of ['', '# only a comment\n', 'rows=3\n', 'lines=-1\n', 'sha256=abc\n']) {
      expect(() => parseManifest(bad, 'f')).toThrowError(expect.objectContaining({ code: ErrorCode.LIST_MANIFEST }) as Error);
    }
  });
  it('a mismatch of either field refuses', () => {
    expect(() => checkManifest({ lines: 3, sha256: null }, { lines: 3, fingerprint: sha }, 'f')).not.toThrow();
    expect(() => checkManifest({ lines: 4, sha256: null }, { lines: 3, fingerprint: sha }, 'f')).toThrowError(expect.objectContaining({ code: ErrorCode.LIST_MANIFEST }) as Error);
    expect(() => checkManifest({ lines: null, sha256: 'b'.repeat(64) }, { lines: 3, fingerprint: sha }, 'f')).toThrowError(expect.objectContaining({ code: ErrorCode.LIST_MANIFEST }) as Error);
  });
});

describe('fetchList: files', () => {
  it('waits for a file written a moment ago to be still for the settle time, then reads it', async () => {
    const path = join(tempDir(), 'l.txt');
    writeFileSync(path, '0612345678\n');
    const r = await fetchList(path, null, { settleMs: 200 });
    expect(r.kind === 'changed' && r.read.numbers).toBe(1);
  });

  it('refuses a file that changes while it is read (LIST_PARTIAL)', async () => {
    const path = join(tempDir(), 'l.txt');
    writeFileSync(path, `${'0612345678\n'.repeat(300_000)}`);
    utimesSync(path, 1, 1);
    // Rewritten in place by another writer as soon as the read began.
    const reading = fetchList(path, null, { settleMs: 0 });
    writeFileSync(path, '0612345679\n');
    const code = await rejectionCodeOf(reading);
    // Depending on where the read was: refused as changed, or read whole before the rewrite (then it is the old file, whole).
    if (code !== undefined) expect([ErrorCode.LIST_PARTIAL, ErrorCode.LIST_UNSETTLED]).toContain(code);
  });
});

describe('fetchList: http', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/short.txt') {
        // Declares 1000 bytes, sends 22, then the connection drops: a download cut short.
        res.writeHead(200, { 'content-length': '1000', 'content-type': 'text/plain' });
        res.write('0612345678\n0612345679\n');
        setImmediate(() => res.socket?.destroy());
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('0612345678\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a body shorter than its Content-Length is never returned as a list', async () => {
    const code = await rejectionCodeOf(fetchList(`${base}/short.txt`, null));
    expect([ErrorCode.LIST_PARTIAL, ErrorCode.LIST_READ]).toContain(code);
  });

  it('a whole body is read', async () => {
    const r = await fetchList(`${base}/ok.txt`, null);
    expect(r.kind === 'changed' && r.read.numbers).toBe(1);
  });
});

describe('list record', () => {
  it('remembers across opens; a newer version or garbage is unreadable (fail closed), never "none"', async () => {
    const path = join(tempDir(), 'rec.json');
    const rec = await ListRecordFile.open(path);
    expect(await rec.baseline('bloctel')).toEqual({ kind: 'none' });
    await rec.remember('bloctel', { count: 10, fingerprint: 'f', forcedFingerprint: null, installedAt: 'x' });
    expect(await (await ListRecordFile.open(path)).baseline('bloctel')).toMatchObject({ kind: 'known', list: { count: 10 } });
    writeFileSync(path, JSON.stringify({ format: 'callgate-lists', version: LIST_RECORD_VERSION + 1, lists: {} }));
    expect(await (await ListRecordFile.open(path)).baseline('bloctel')).toMatchObject({ kind: 'unreadable' });
    writeFileSync(path, '{"format":"callgate-lists","vers');
    expect(await (await ListRecordFile.open(path)).baseline('bloctel')).toMatchObject({ kind: 'unreadable' });
  });
});
