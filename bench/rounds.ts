/**
 * Interleaved rounds: the sides compared run in every round, in turn, so that a noisy neighbour hits them
 * alike; a figure is kept per round and read as the median over rounds (one disturbed round cannot move it).
 */

/** The median of the finite values; NaN when there is none. */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? (v[mid] ?? Number.NaN) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

/** The sides in round `round`'s order: as given in even rounds, reversed in odd ones, so that none always goes first. */
export function roundOrder<T>(round: number, sides: readonly T[]): T[] {
  return round % 2 === 0 ? [...sides] : [...sides].reverse();
}

/** Values by figure name, one per round, in the order they were measured. */
export class Runs {
  readonly byName = new Map<string, number[]>();

  add(name: string, value: number): void {
    this.#list(name).push(value);
  }

  /** A child's figures line, each name under `prefix` (a value, or one per round). */
  addAll(prefix: string, figures: Readonly<Record<string, number | readonly number[]>>): void {
    for (const [name, v] of Object.entries(figures)) {
      if (typeof v === 'number') this.#list(`${prefix}${name}`).push(v);
      else this.#list(`${prefix}${name}`).push(...v);
    }
  }

  get(name: string): number[] | undefined {
    return this.byName.get(name);
  }

  median(name: string): number | undefined {
    const r = this.byName.get(name);
    return r === undefined ? undefined : median(r);
  }

  /** The runs as a figures line's object: `{ name: [value per round] }`. */
  toObject(): Record<string, number[]> {
    return Object.fromEntries(this.byName);
  }

  #list(name: string): number[] {
    let list = this.byName.get(name);
    if (list === undefined) this.byName.set(name, (list = []));
    return list;
  }
}
