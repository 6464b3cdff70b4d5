/**
 * Writes a synthetic list file: N distinct valid numbers, deterministic from a seed, streamed (12 million
 * lines never exist as strings at once).
 *   npx tsx bench/gen-list.ts --size N --out FILE [--gzip] [--seed S] [--formats mixed|e164] [--header TEXT]
 * --gzip defaults to true when FILE ends in .gz.
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { SyntheticNumbers, formatMixed } from './synthetic-numbers.js';

export type ListFormats = 'mixed' | 'e164';

export interface SyntheticListOptions {
  readonly size: number;
  readonly out: string;
  /** @default true when `out` ends in .gz */
  readonly gzip?: boolean;
  /** @default 1 */
  readonly seed?: number;
  /** @default 'mixed' */
  readonly formats?: ListFormats;
  /** First line, e.g. `telephone;date_inscription`. @default none */
  readonly header?: string;
}

/** Lines per write: large enough that per-write costs vanish, small enough to stay a few hundred kB. */
const LINES_PER_CHUNK = 10_000;

/** Lines as text to write, in chunks of whole lines (each line ends in a newline). */
export function* inChunks(lines: Iterable<string>): Generator<string> {
  let chunk: string[] = [];
  for (const line of lines) {
    chunk.push(line);
    if (chunk.length >= LINES_PER_CHUNK) {
      yield `${chunk.join('\n')}\n`;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield `${chunk.join('\n')}\n`;
}

/** The list text in chunks of whole lines. */
export function syntheticListChunks(opts: Omit<SyntheticListOptions, 'out' | 'gzip'>): Generator<string> {
  const seed = opts.seed ?? 1;
  const mixed = (opts.formats ?? 'mixed') === 'mixed';
  const gen = new SyntheticNumbers(seed);
  function* lines(): Generator<string> {
    if (opts.header !== undefined) yield opts.header;
    for (let i = 0; i < opts.size; i++) {
      const e164 = gen.at(i);
      yield mixed ? formatMixed(e164, i, seed) : e164;
    }
  }
  return inChunks(lines());
}

export async function writeSyntheticList(opts: SyntheticListOptions): Promise<void> {
  const source = Readable.from(syntheticListChunks(opts));
  const out = createWriteStream(opts.out);
  if (opts.gzip ?? opts.out.endsWith('.gz')) await pipeline(source, createGzip(), out);
  else await pipeline(source, out);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string' },
      out: { type: 'string' },
      gzip: { type: 'boolean' },
      seed: { type: 'string', default: '1' },
      formats: { type: 'string', default: 'mixed' },
      header: { type: 'string' },
    },
    strict: true,
  });
  const size = Number(values.size);
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`--size expects a non-negative integer, got ${values.size}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed expects an integer, got ${values.seed}`);
  if (values.out === undefined) throw new Error('--out FILE is required');
  if (values.formats !== 'mixed' && values.formats !== 'e164') throw new Error(`--formats expects mixed or e164, got ${values.formats}`);
  const started = performance.now();
  await writeSyntheticList({
    size,
    out: values.out,
    seed,
    formats: values.formats,
    ...(values.gzip === undefined ? {} : { gzip: values.gzip }),
    ...(values.header === undefined ? {} : { header: values.header }),
  });
  process.stderr.write(`wrote ${size} numbers to ${values.out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
