/**
 * From the numbers of a list to a generation: exact members (sorted, deduplicated) and the Bloom
 * filter built over them. Shared by embedded loads and Redis loads.
 */
import { randomBytes } from 'node:crypto';
import { NumberFilter } from './bloom.js';
import { ExactSet } from './exact-set.js';

export interface BuiltGeneration {
  readonly set: ExactSet;
  readonly filter: NumberFilter;
  readonly duplicates: number;
  readonly buildMs: number;
  /** The filter's binary form when it already exists (built in a worker), so it is not made again. */
  readonly filterBinary?: Buffer;
}

/** Keys added to the filter between two calls of buildGeneration's onKeys. */
export const KEYS_PER_PROGRESS = 8192;

/** onKeys: told of every KEYS_PER_PROGRESS keys added to the filter (the build worker's pace). */
export function buildGeneration(keys: Float64Array, falsePositiveRate: number, onKeys?: (keys: number) => void): BuiltGeneration {
  const started = performance.now();
  const { set, duplicates } = ExactSet.build(keys);
  // Sized for at least one item: an empty filter is never installed, but sizing must not divide by 0.
  const filter = NumberFilter.create(Math.max(1, set.size), falsePositiveRate);
  const members = set.keys();
  if (onKeys === undefined) for (let i = 0; i < members.length; i++) filter.add(members[i] as number);
  else {
    for (let from = 0; from < members.length; from += KEYS_PER_PROGRESS) {
      const to = Math.min(members.length, from + KEYS_PER_PROGRESS);
      for (let i = from; i < to; i++) filter.add(members[i] as number);
      onKeys(to - from);
    }
  }
  return { set, filter, duplicates, buildMs: performance.now() - started };
}

/**
 * A generation id, the same format in both modes: base36 milliseconds (fixed width, so string order is
 * time order) plus random hex, so two writers in the same millisecond never collide.
 */
export function newGenerationId(nowMs: number = Date.now(), random: Uint8Array = randomBytes(4)): string {
  const hex = Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${Math.floor(nowMs).toString(36).padStart(9, '0')}-${hex}`;
}
