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

/**
 * The flags every load driver takes: the target's `--url`, the list's `--size` and `--seed` (which numbers are
 * listed and which are not, bench-numbers.ts) and its window: `--measure-ms` after `--warmup-ms`.
 */
export function driverOptions(defaults: { readonly measureMs: number; readonly warmupMs: number }) {
  return {
    url: { type: 'string' },
    size: { type: 'string' },
    seed: { type: 'string', default: '1' },
    'measure-ms': { type: 'string', default: String(defaults.measureMs) },
    'warmup-ms': { type: 'string', default: String(defaults.warmupMs) },
  } as const;
}

export interface DriverFlags {
  readonly url: string;
  readonly size: number;
  readonly seed: number;
  readonly measureMs: number;
  readonly warmupMs: number;
}

/** The values of driverOptions' flags, checked: the url given, the size a positive whole number. */
export function driverFlags(values: { readonly url?: string | undefined; readonly size?: string | undefined; readonly seed: string; readonly 'measure-ms': string; readonly 'warmup-ms': string }): DriverFlags {
  if (values.url === undefined) throw new Error('--url is required');
  return { url: values.url, size: positiveInt('size', values.size ?? ''), seed: Number(values.seed), measureMs: Number(values['measure-ms']), warmupMs: Number(values['warmup-ms']) };
}
