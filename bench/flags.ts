/**
 * The flags the bench scripts share, read the same way everywhere: whole numbers (`1_000_000` and
 * `1,000,000` allowed), the modes to measure, and where a run's result file goes by default.
 */
import { join } from 'node:path';
import { ROOT } from './paths.js';

/** A positive whole number from flag `--name`'s text; throws saying what was expected and what was got. */
export function positiveInt(name: string, text: string): number {
  const n = Number(text.replace(/[_,]/g, ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} expects a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

/** positiveInt, or `fallback` when the flag was not given. */
export function intFlag(name: string, value: string | undefined, fallback: number): number {
  return value === undefined ? fallback : positiveInt(name, value);
}

export type Mode = 'embedded' | 'redis';
export const MODES: readonly Mode[] = ['embedded', 'redis'];

/** `--modes embedded,redis` (the default) or either alone. */
export function modesFlag(value: string | undefined): Mode[] {
  return (value ?? MODES.join(',')).split(',').map((m) => {
    if (!(MODES as readonly string[]).includes(m)) throw new Error(`--modes expects embedded and/or redis, got ${JSON.stringify(m)}`);
    return m as Mode;
  });
}

/** The default of `--out`: `bench/results/<prefix><start time><suffix>.json`. */
export function defaultOut(prefix: string, suffix = ''): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return join(ROOT, 'bench', 'results', `${prefix}${stamp}${suffix}.json`);
}
