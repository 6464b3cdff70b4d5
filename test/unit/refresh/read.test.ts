import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isCallgateError } from '../../../src/core/errors.js';
import { readListFile, readListStream } from '../../../src/refresh/read.js';
import type { ListReadResult } from '../../../src/refresh/read.js';
import { otherReading } from '../../../src/numbers/normalise.js';
import { e164ToKey } from '../../../src/numbers/number-key.js';
import { writeSyntheticList } from '../../../bench/gen-list.js';
import { generateNumbers } from '../../../bench/synthetic-numbers.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));

function counts(r: ListReadResult) {
  const { lines, numbers, blank, comments, header, badLines, badLineNumbers } = r;
  return { lines, numbers, blank, comments, header, badLines, badLineNumbers };
}

/** A stream of the bytes cut into `size`-byte chunks. */
function chunked(bytes: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'callgate-list-read-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readListFile: fixtures', () => {
  it('plain.txt', async () => {
    const r = await readListFile(fixture('plain.txt'));
    expect(counts(r)).toEqual({ lines: 5, numbers: 5, blank: 0, comments: 0, header: false, badLines: 0, badLineNumbers: [] });
    expect([...r.keys]).toEqual([33612345678, 33740123456, 33145678901, 33299887766, 33987654321]);
    const bytes = await readFile(fixture('plain.txt'));
    expect(r.bytes).toBe(bytes.length);
    expect(r.fingerprint).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(r.sourceDate).toEqual((await stat(fixture('plain.txt'))).mtime);
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('plain.txt.gz: same keys, fingerprint of the compressed bytes', async () => {
    const r = await readListFile(fixture('plain.txt.gz'));
    const plain = await readListFile(fixture('plain.txt'));
    expect(counts(r)).toEqual(counts(plain));
    expect([...r.keys]).toEqual([...plain.keys]);
    const gz = await readFile(fixture('plain.txt.gz'));
    expect(r.bytes).toBe(gz.length);
    expect(r.fingerprint).toBe(createHash('sha256').update(gz).digest('hex'));
    expect(r.fingerprint).not.toBe(plain.fingerprint);
  });

  it('crlf-bom.csv: BOM, CRLF, header, `;` columns', async () => {
    const r = await readListFile(fixture('crlf-bom.csv'));
    expect(counts(r)).toEqual({ lines: 6, numbers: 4, blank: 1, comments: 0, header: true, badLines: 0, badLineNumbers: [] });
    expect([...r.keys]).toEqual([33612345678, 33612345679, 33740123456, 262692123456]);
  });

  it('comma-quoted.csv: quotes, commas inside quotes, apostrophe, empty rows', async () => {
    const r = await readListFile(fixture('comma-quoted.csv'));
    expect(counts(r)).toEqual({ lines: 8, numbers: 5, blank: 1, comments: 0, header: true, badLines: 1, badLineNumbers: [7] });
    expect([...r.keys]).toEqual([33612345678, 33740123456, 33145678901, 33612345680, 33299887766]);
  });

  it('with-bad-lines.txt: bad lines at known line numbers', async () => {
    const r = await readListFile(fixture('with-bad-lines.txt'));
    expect(counts(r)).toEqual({
      lines: 17,
      numbers: 5,
      blank: 3,
      comments: 2,
      header: true,
      badLines: 6,
      badLineNumbers: [5, 7, 8, 11, 16, 17],
    });
    expect([...r.keys]).toEqual([33612345678, 33612345679, 33740123456, 33145678901, 33699999999]);
  });

  it('duplicates.txt: one number in nine spellings gives nine equal keys', async () => {
    const r = await readListFile(fixture('duplicates.txt'));
    expect(counts(r)).toEqual({ lines: 9, numbers: 9, blank: 0, comments: 0, header: false, badLines: 0, badLineNumbers: [] });
    expect([...r.keys]).toEqual(Array(9).fill(33612345678));
  });

  it('mixed-formats.txt: metropolitan, overseas and foreign spellings', async () => {
    const r = await readListFile(fixture('mixed-formats.txt'));
    expect(counts(r)).toEqual({ lines: 16, numbers: 16, blank: 0, comments: 0, header: false, badLines: 0, badLineNumbers: [] });
    expect([...r.keys]).toEqual([
      ...Array.from({ length: 9 }, (_, i) => 33612345678 + i),
      262692123456, 262692123457, 262692123458, 262692123459,
      596696123456, 596596757617, 41791234567,
    ]);
  });

  it('empty.txt', async () => {
    const r = await readListFile(fixture('empty.txt'));
    expect(counts(r)).toEqual({ lines: 0, numbers: 0, blank: 0, comments: 0, header: false, badLines: 0, badLineNumbers: [] });
    expect(r.keys.length).toBe(0);
    expect(r.fingerprint).toBe(createHash('sha256').digest('hex'));
  });

  it('header-only.csv', async () => {
    const r = await readListFile(fixture('header-only.csv'));
    expect(counts(r)).toEqual({ lines: 1, numbers: 0, blank: 0, comments: 0, header: true, badLines: 0, badLineNumbers: [] });
  });

  it('samples/sample-deny.txt holds the README numbers and no bad line', async () => {
    const r = await readListFile(fileURLToPath(new URL('../../../samples/sample-deny.txt', import.meta.url)));
    expect(r).toMatchObject({ numbers: 1000, header: true, comments: 1, badLines: 0 });
    expect(r.keys).toContain(e164ToKey('+33612345678'));
    expect(r.keys).toContain(e164ToKey('+262692123456'));
    // Two lines are 9 bare digits with a second reading (numbers/normalise.ts rule 9), listed too on a deny-list.
    expect(r.keys).toContain(e164ToKey('+687316877'));
    expect(new Set(r.keys).size).toBe(1002);
  });
});

describe('readListStream: chunk boundaries', () => {
  it('gives the same result whatever the chunk size (BOM, CRLF and lines cut anywhere)', async () => {
    const bytes = await readFile(fixture('crlf-bom.csv'));
    const whole = await readListStream(chunked(bytes, bytes.length), { gzip: false });
    for (const size of [1, 2, 3, 5, 7]) {
      const r = await readListStream(chunked(bytes, size), { gzip: false });
      expect(counts(r)).toEqual(counts(whole));
      expect([...r.keys]).toEqual([...whole.keys]);
      expect(r.fingerprint).toBe(whole.fingerprint);
      expect(r.bytes).toBe(bytes.length);
    }
  });

  it('cuts a CRLF between chunks', async () => {
    const r = await readListStream(Readable.from([Buffer.from('0612345678\r'), Buffer.from('\n0612345679\r'), Buffer.from('\n')]), {
      gzip: false,
    });
    expect(counts(r)).toMatchObject({ lines: 2, numbers: 2, badLines: 0 });
    expect([...r.keys]).toEqual([33612345678, 33612345679]);
  });

  it('reads gzip in tiny chunks', async () => {
    const gz = await readFile(fixture('plain.txt.gz'));
    const r = await readListStream(chunked(gz, 3), { gzip: true });
    expect(r.numbers).toBe(5);
    expect(r.fingerprint).toBe(createHash('sha256').update(gz).digest('hex'));
  });

  it('accepts string chunks', async () => {
    const r = await readListStream(Readable.from(['06123', '45678\n', '0612345679\n']), { gzip: false });
    expect([...r.keys]).toEqual([33612345678, 33612345679]);
  });

  it('reads a UTF-16LE file (spreadsheet "Unicode text" export) by its BOM', async () => {
    const bytes = Buffer.from('\ufefftelephone\r\n0612345678\r\n06 12 34 56 79\r\n', 'utf16le');
    const r = await readListStream(chunked(bytes, 1), { gzip: false });
    expect(counts(r)).toMatchObject({ lines: 3, numbers: 2, header: true, badLines: 0 });
  });

  it('reads a one-byte stream', async () => {
    const r = await readListStream(Readable.from([Buffer.from('x\n')]), { gzip: false });
    expect(counts(r)).toMatchObject({ lines: 1, header: true });
  });

  it('uses an injected normaliser', async () => {
    const r = await readListStream(Readable.from([Buffer.from('a1\nb2\n')]), { gzip: false, normalise: (raw) => (raw === 'a1' ? '+331' : null) });
    expect(counts(r)).toMatchObject({ numbers: 1, badLines: 1, badLineNumbers: [2] });
    expect([...r.keys]).toEqual([331]);
  });
});

describe('synthetic lists (bench/gen-list.ts)', () => {
  it('reads back every generated number, mixed formats, gzip and header', async () => {
    const out = join(dir, 'synthetic.txt.gz');
    await writeSyntheticList({ size: 5000, out, seed: 42, formats: 'mixed', header: 'telephone;date' });
    const r = await readListFile(out, { expectedNumbers: 5000 });
    expect(counts(r)).toEqual({ lines: 5001, numbers: 5000, blank: 0, comments: 0, header: true, badLines: 0, badLineNumbers: [] });
    const expected = [...generateNumbers(5000, 42)].map(e164ToKey);
    const generated = new Set(expected);
    expect([...r.keys].filter((k) => generated.has(k))).toEqual(expected);
    expect(generated.size).toBe(5000);
    // The other keys are second readings of lines written as 9 bare digits (numbers/normalise.ts rule 9).
    const seconds = new Set(expected.map((k) => otherReading(String(k).slice(-9))).filter((e) => e !== null).map(e164ToKey));
    expect([...r.keys].filter((k) => !generated.has(k)).every((k) => seconds.has(k))).toBe(true);
  });
});

describe('unreadable lists reject with CALLGATE_ERR_LIST_READ', () => {
  async function expectListRead(p: Promise<unknown>): Promise<void> {
    const err = await rejection(p);
    expect(isCallgateError(err, ErrorCode.LIST_READ)).toBe(true);
  }

  it('a missing file', async () => {
    await expectListRead(readListFile(join(dir, 'missing.txt')));
  });

  it('a directory', async () => {
    await expectListRead(readListFile(dir));
  });

  it.skipIf(process.getuid?.() === 0)('a file without read permission (skipped as root: root reads anything)', async () => {
    const p = join(dir, 'secret.txt');
    await writeFile(p, '0612345678\n');
    await chmod(p, 0o000);
    await expectListRead(readListFile(p));
  });

  it('a .gz file that is not gzip', async () => {
    const p = join(dir, 'not-gzip.txt.gz');
    await writeFile(p, '0612345678\n');
    await expectListRead(readListFile(p));
  });

  it('a truncated gzip file', async () => {
    const p = join(dir, 'truncated.txt.gz');
    const gz = gzipSync(Buffer.from('0612345678\n'.repeat(1000)));
    await writeFile(p, gz.subarray(0, gz.length >> 1));
    await expectListRead(readListFile(p));
  });

  it('a gzip file with corrupt data', async () => {
    const gz = Buffer.from(await readFile(fixture('plain.txt.gz')));
    gz.fill(0xff, 12, gz.length - 8);
    await expectListRead(readListStream(Readable.from([gz]), { gzip: true }));
  });

  it('a stream that fails midway', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.from('0612345678\n'));
        this.destroy(new Error('connection reset'));
      },
    });
    await expectListRead(readListStream(failing, { gzip: false, label: 'https://example.test/list' }));
  });
});
