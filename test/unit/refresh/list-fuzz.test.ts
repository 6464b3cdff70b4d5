/**
 * Seeded fuzz over list file contents (issue 12, "keep it that way"): random bytes, random lines with
 * random endings, UTF-8 / UTF-16LE, gzip cut anywhere. Through the real read path (list-fetch: settle,
 * framing, caps, verify) and the real refresher, against a good list already installed, it asserts:
 * the loader never crashes (every refresh ends in an outcome), nothing is installed from a cut gzip or
 * a text without its final newline, and after any refresh that did not load, every number of the good
 * list is still listed. Fixed seeds: a failure replays exactly.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AlertRegistry } from '../../../src/supervision/alerts.js';
import type { BuildOutcome } from '../../../src/refresh/build-in-worker.js';
import type { BuildRequest } from '../../../src/refresh/build-worker.js';
import { buildGeneration } from '../../../src/lists/generation.js';
import { fetchList } from '../../../src/refresh/fetch.js';
import type { ListSpec } from '../../../src/config/list-spec.js';
import { ListRegistry, type ListState } from '../../../src/lists/registry.js';
import { silentLogger } from '../../../src/core/logger.js';
import { e164ToKey } from '../../../src/numbers/number-key.js';
import { ListRefresher } from '../../../src/refresh/refresh.js';
import { memorySink } from '../../helpers/memory-sink.js';
import { tempDir } from '../../helpers/service.js';

const GOOD = Array.from({ length: 200 }, (_, i) => 610_000_000 + i);
const national = (n: number): string => `0${n}`;
const keyOf = (n: number): number => e164ToKey(`+33${n}`);

/** The worker's work, in process (fast enough for hundreds of runs). */
async function buildHere(req: BuildRequest): Promise<BuildOutcome> {
  const f = await fetchList(req.source, req.previous, req);
  if (f.kind === 'unchanged') return f;
  const built = f.read.numbers === 0 ? null : buildGeneration(f.read.keys, req.falsePositiveRate);
  return { kind: 'changed', validators: f.validators, sourceDate: f.sourceDate, fetchedAt: f.fetchedAt, read: f.read, built };
}


function specOf(name: string, source: string): ListSpec {
  return {
    name,
    kind: 'deny',
    role: null,
    source,
    falsePositiveRate: 0.001,
    refresh: { cron: '30 2 * * *', timezone: 'Europe/Paris', maxAgeDays: 30, warnDays: 5, maxShrinkRatio: 0.2, maxBadLineRatio: 0.01, settleMs: 0, maxListBytes: 1 << 20, maxLineChars: 256 },
  };
}

function writeDated(path: string, bytes: Uint8Array, mtimeS: number): void {
  writeFileSync(path, bytes);
  utimesSync(path, mtimeS, mtimeS);
}

/** A line: a good number, a new number, or junk; written in a few ways. */
const lineArb = fc.oneof(
  fc.constantFrom(...GOOD.map(national)),
  fc.integer({ min: 610_000_000, max: 699_999_999 }).map(national),
  fc.integer({ min: 610_000_000, max: 699_999_999 }).map((n) => `+33 ${String(n).replace(/(\d)(?=(\d{2})+$)/g, '$1 ')}`),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
);

/** A whole file: lines, an ending, an encoding, maybe gzip, maybe cut. */
const fileArb = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }).map((bytes) => ({ bytes, gzip: false, cut: false, text: null as string | null })),
  fc
    .record({
      lines: fc.array(lineArb, { maxLength: 400 }),
      good: fc.boolean(),
      crlf: fc.boolean(),
      finalNewline: fc.boolean(),
      utf16: fc.boolean(),
      gzip: fc.boolean(),
      cutAt: fc.option(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { nil: null }),
    })
    .map(({ lines, good, crlf, finalNewline, utf16, gzip, cutAt }) => {
      // Half the time the good list is in it, so that some candidates pass the guards and load.
      const all = good ? [...GOOD.map(national), ...lines] : lines;
      const eol = crlf ? '\r\n' : '\n';
      const text = all.join(eol) + (finalNewline && all.length > 0 ? eol : '');
      let bytes: Uint8Array = utf16 ? Buffer.from(`\ufeff${text}`, 'utf16le') : Buffer.from(text, 'utf8');
      if (gzip) bytes = gzipSync(bytes);
      const cut = cutAt !== null && bytes.length > 0;
      if (cut) bytes = bytes.subarray(0, Math.floor(cutAt * bytes.length));
      return { bytes, gzip, cut, text };
    }),
);

describe('fuzz: list file contents through the refresher', () => {
  const dir = tempDir();
  const plainPath = join(dir, 'list.txt');
  const gzPath = join(dir, 'list.txt.gz');
  const registry = new ListRegistry([specOf('plain', plainPath), specOf('gz', gzPath)]);
  const alerts = new AlertRegistry({ logger: silentLogger() });
  const refresher = new ListRefresher({ registry, alerts, sink: memorySink, logger: silentLogger(), build: buildHere });
  const goodStates = new Map<string, ListState>();
  let mtime = 1_700_000_000;

  beforeAll(async () => {
    const good = Buffer.from(`${GOOD.map(national).join('\n')}\n`);
    writeDated(plainPath, good, mtime);
    writeDated(gzPath, gzipSync(good), mtime);
    for (const name of ['plain', 'gz']) {
      const o = await refresher.refresh(name, { force: false, trigger: 'startup' });
      expect(o.status).toBe('loaded');
      goodStates.set(name, registry.slot(name)?.state as ListState);
    }
  });

  it('never crashes, never installs a cut or unterminated file, and keeps every good number listed when it refuses', async () => {
    await fc.assert(
      fc.asyncProperty(fileArb, async (file) => {
        const name = file.gzip ? 'gz' : 'plain';
        const good = goodStates.get(name) as ListState;
        registry.install(good);
        refresher.forget(name);
        writeDated(file.gzip ? gzPath : plainPath, file.bytes, ++mtime);

        const outcome = await refresher.refresh(name, { force: false, trigger: 'schedule' });
        expect(['loaded', 'unchanged', 'refused', 'failed']).toContain(outcome.status);
        const state = registry.slot(name)?.state;
        expect(state).toBeTruthy();
        if (outcome.status === 'loaded') {
          // Only a whole, framed file: never a cut gzip, never a text without its final newline.
          expect(file.cut && file.gzip).toBe(false);
          if (file.text !== null && !file.cut) expect(file.text === '' || /\n$/.test(file.text)).toBe(true);
          expect(state?.count ?? 0).toBeGreaterThanOrEqual(Math.ceil(GOOD.length * 0.8));
        } else {
          // Refused or failed: the good generation still serves, every one of its numbers listed.
          expect(state?.generation).toBe(good.generation);
          const members = state?.members;
          if (members?.where !== 'memory') throw new Error('expected memory members');
          for (const n of GOOD) expect(members.set.has(keyOf(n))).toBe(true);
        }
      }),
      { seed: 20261202, numRuns: 300 },
    );
  });

  it('a random byte stream through the reader alone never crashes (only coded errors)', async () => {
    const { readListStream } = await import('../../../src/refresh/read.js');
    const { Readable } = await import('node:stream');
    const { isCallgateError } = await import('../../../src/core/errors.js');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 512 }), { maxLength: 20 }), fc.boolean(), async (chunks, gzip) => {
        try {
          await readListStream(Readable.from(chunks.map((c) => Buffer.from(c))), { gzip, maxLineChars: 128, maxListBytes: 4096 });
        } catch (err) {
          expect(isCallgateError(err)).toBe(true);
        }
      }),
      { seed: 4242, numRuns: 500 },
    );
  });
});
