/**
 * What a check reads: one immutable snapshot of every configured list, held by one reference.
 * A load builds a new ListState and swaps the reference; a check reads the snapshot once, so the
 * filter and the exact members it consults always belong to the same generation. The only mutable
 * part is each list's intraday additions, which are meant to take effect at once.
 */
import type { NumberFilter } from './bloom.js';
import type { ExactSet } from './exact-set.js';
import { IntradayAdditions } from './intraday.js';
import type { ListSpec } from './list-spec.js';
import type { NumberKey } from './number-key.js';
import type { BucketPlan } from './redis-keys.js';

/** Where the exact members of a generation live. */
export type Members =
  | {
      readonly where: 'memory';
      readonly set: ExactSet;
      /** Consent lists: number key → stored consent terms (consent-terms.ts); null for other lists. */
      readonly terms: ReadonlyMap<NumberKey, string> | null;
    }
  | { readonly where: 'redis'; readonly generation: string; readonly buckets: BucketPlan };

export interface ListState {
  readonly spec: ListSpec;
  readonly generation: string;
  readonly filter: NumberFilter;
  readonly members: Members;
  /** Unique numbers in this generation (intraday additions not counted). */
  readonly count: number;
  readonly loadedAt: Date;
  /** The source's own date (file mtime, HTTP Last-Modified), when known. */
  readonly sourceDate: Date | null;
  readonly fingerprint: string;
  readonly normaliserVersion: string;
}

export interface ListSlot {
  readonly spec: ListSpec;
  readonly state: ListState | null;
  readonly intraday: IntradayAdditions;
  /** When checks against this list start answering `stale_list` (ms since epoch; Infinity: never). */
  readonly staleAt: number;
}

export interface GateSnapshot {
  readonly slots: readonly ListSlot[];
  /** Every configured list has a loaded generation. */
  readonly ready: boolean;
  /** The earliest staleAt of any list. */
  readonly staleAt: number;
}

const DAY_MS = 86_400_000;

/**
 * A list with a source goes stale maxAgeDays after the source's own date (Bloctel: re-scrub at
 * least every 30 days, Code de la consommation R223-6). A list that never had a source date (an
 * internal list fed only by intraday additions) never goes stale.
 */
export function staleAtOf(spec: ListSpec, state: ListState | null): number {
  if (state === null || state.sourceDate === null) return Number.POSITIVE_INFINITY;
  return state.sourceDate.getTime() + spec.refresh.maxAgeDays * DAY_MS;
}

function snapshotOf(slots: readonly ListSlot[]): GateSnapshot {
  let staleAt = Number.POSITIVE_INFINITY;
  for (const s of slots) staleAt = Math.min(staleAt, s.staleAt);
  return Object.freeze({ slots: Object.freeze(slots), ready: slots.length > 0 && slots.every((s) => s.state !== null), staleAt });
}

function slotOf(spec: ListSpec, state: ListState | null, intraday: IntradayAdditions): ListSlot {
  return Object.freeze({ spec, state, intraday, staleAt: staleAtOf(spec, state) });
}

/** Holds the current snapshot; the only mutable reference on the check path. */
export class ListRegistry {
  #current: GateSnapshot;

  constructor(specs: readonly ListSpec[]) {
    this.#current = snapshotOf(specs.map((spec) => slotOf(spec, null, new IntradayAdditions(spec.kind === 'allow'))));
  }

  get current(): GateSnapshot {
    return this.#current;
  }

  slot(name: string): ListSlot | undefined {
    return this.#current.slots.find((s) => s.spec.name === name);
  }

  /** Installs a new generation of one list (or adds a list discovered in Redis), atomically for readers. */
  install(state: ListState): void {
    const slots = this.#current.slots;
    const i = slots.findIndex((s) => s.spec.name === state.spec.name);
    const next =
      i === -1
        ? [...slots, slotOf(state.spec, state, new IntradayAdditions(state.spec.kind === 'allow'))]
        : slots.map((s, j) => (j === i ? slotOf(s.spec, state, s.intraday) : s));
    this.#current = snapshotOf(next);
  }

  /**
   * Takes a list's generation away (its intraday additions stay): checks answer not_ready until a generation is
   * installed again. For what this build cannot read (a newer stored format): blocking beats answering from an
   * older copy.
   */
  withdraw(name: string): void {
    const slots = this.#current.slots;
    if (!slots.some((s) => s.spec.name === name && s.state !== null)) return;
    this.#current = snapshotOf(slots.map((s) => (s.spec.name === name ? slotOf(s.spec, null, s.intraday) : s)));
  }

  /** Names of configured lists with no generation loaded yet (for /readyz). */
  missing(): string[] {
    return this.#current.slots.filter((s) => s.state === null).map((s) => s.spec.name);
  }
}
