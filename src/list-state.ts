/**
 * What a check reads: one immutable snapshot of every configured list, held by one reference.
 * A load builds a new ListState and swaps the reference; a check reads the snapshot once, so the
 * filter and the exact members it consults always belong to the same generation.
 */
import type { NumberFilter } from './bloom.js';
import type { ExactSet } from './exact-set.js';
import type { ListSpec } from './list-spec.js';

/** Where the exact members of a generation live. */
export type Members =
  | { readonly where: 'memory'; readonly set: ExactSet }
  | { readonly where: 'redis'; readonly generation: string; readonly buckets: number };

export interface ListState {
  readonly spec: ListSpec;
  readonly generation: string;
  readonly filter: NumberFilter;
  readonly members: Members;
  /** Unique numbers in this generation. */
  readonly count: number;
  readonly loadedAt: Date;
  /** The source's own date (file mtime), when known. */
  readonly sourceDate: Date | null;
  readonly fingerprint: string;
  readonly normaliserVersion: string;
}

export interface ListSlot {
  readonly spec: ListSpec;
  readonly state: ListState | null;
}

export interface GateSnapshot {
  readonly slots: readonly ListSlot[];
  /** Every configured list has a loaded generation. */
  readonly ready: boolean;
}

function snapshotOf(slots: readonly ListSlot[]): GateSnapshot {
  return Object.freeze({ slots: Object.freeze(slots), ready: slots.length > 0 && slots.every((s) => s.state !== null) });
}

/** Holds the current snapshot; the only mutable reference on the check path. */
export class ListRegistry {
  #current: GateSnapshot;

  constructor(specs: readonly ListSpec[]) {
    this.#current = snapshotOf(specs.map((spec) => ({ spec, state: null })));
  }

  get current(): GateSnapshot {
    return this.#current;
  }

  /** Installs a new generation of one list (or adds a list discovered in Redis), atomically for readers. */
  install(state: ListState): void {
    const slots = this.#current.slots;
    const i = slots.findIndex((s) => s.spec.name === state.spec.name);
    const next = i === -1 ? [...slots, { spec: state.spec, state }] : slots.map((s, j) => (j === i ? { spec: s.spec, state } : s));
    this.#current = snapshotOf(next);
  }

  /** Names of configured lists with no generation loaded yet (for /readyz). */
  missing(): string[] {
    return this.#current.slots.filter((s) => s.state === null).map((s) => s.spec.name);
  }
}
