/**
 * The numbers the benchmark clients ask about, derived from the same seed as the synthetic list, so that
 * no process needs the list file: the list holds SyntheticNumbers(seed).at(0 … size-1), so
 *   - block numbers are spread over that range (every one is on the list);
 *   - miss numbers are at(size …): valid numbers, distinct from every listed one, so off the list
 *     (a Bloom false positive among them, ~0.1%, still answers allow after the exact check).
 */
import { SyntheticNumbers, formatMixed, formatNumber } from './synthetic-numbers.js';

/** Distinct numbers per path; enough that caches see a spread, few enough to build in milliseconds. */
export const NUMBERS_PER_PATH = 20_000;

export type NumberStyleChoice = 'mixed' | 'e164';

function styled(e164: string, i: number, seed: number, style: NumberStyleChoice): string {
  // 'mixed': the formats list files use (national, spaced, dotted, E.164, …): the normaliser's real work.
  return style === 'mixed' ? formatMixed(e164, i, seed + 1) : formatNumber(e164, 'e164');
}

/** E.164 numbers on the list, spread evenly over it. */
export function blockE164(size: number, seed: number, count = NUMBERS_PER_PATH): string[] {
  const gen = new SyntheticNumbers(seed);
  const n = Math.min(count, size);
  const stride = Math.max(1, Math.floor(size / n));
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(gen.at(i * stride));
  return out;
}

/** E.164 numbers off the list (valid, never listed). */
export function missE164(size: number, seed: number, count = NUMBERS_PER_PATH): string[] {
  const gen = new SyntheticNumbers(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(gen.at(size + i));
  return out;
}

export function styleAll(e164s: readonly string[], seed: number, style: NumberStyleChoice): string[] {
  return e164s.map((e, i) => styled(e, i, seed, style));
}
