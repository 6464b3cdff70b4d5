/**
 * The synthetic lists the bench measures on, generated once per size and seed and kept in
 * `.tmp/bench-list-<size>-s<seed>.txt` (mixed formats, as real list files come: loading exercises the parser
 * too). Written beside and renamed when whole, so that an interrupted run leaves no half list behind.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeSyntheticList } from './gen-list.js';
import { ROOT } from './paths.js';

export function benchListPath(size: number, seed: number): string {
  return join(ROOT, '.tmp', `bench-list-${size}-s${seed}.txt`);
}

/** The cached list, generated first if absent; `seconds` is how long generating took (0 when cached). */
export async function ensureBenchList(size: number, seed: number): Promise<{ path: string; generated: boolean; seconds: number }> {
  const path = benchListPath(size, seed);
  if (existsSync(path)) return { path, generated: false, seconds: 0 };
  mkdirSync(dirname(path), { recursive: true });
  const t0 = performance.now();
  const partial = `${path}.partial-${process.pid}`;
  await writeSyntheticList({ size, seed, out: partial, formats: 'mixed', gzip: false });
  renameSync(partial, path);
  return { path, generated: true, seconds: (performance.now() - t0) / 1000 };
}
