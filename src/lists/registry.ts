/**
 * What a check reads: one immutable snapshot of every configured list, held by one reference.
 * A load builds a new ListState and swaps the reference; a check reads the snapshot once, so the
 * filter and the exact members it consults always belong to the same generation. The only mutable
 * part is each list's intraday additions, which are meant to take effect at once.
 */
import type { NumberFilter } from './bloom.js';
import type { ExactSet } from './exact-set.js';
import type { TermsLookup } from './terms-table.js';
import { IntradayAdditions } from './intraday.js';
import type { ListSpec } from '../config/list-spec.js';
import type { BucketPlan } from '../redis/bucketing.js';
import { DAY_MS } from '../core/time.js';

/** Where the exact members of a generation live. */
export type Members =
  | {
      readonly where: 'memory';
      readonly set: ExactSet;
      /** Consent lists: number key → stored consent terms (rules/consent-terms.ts), a TermsTable once loaded; null for other lists. */
      readonly terms: TermsLookup | null;
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

/** The lists a check may consult: deny-lists, or allow-lists by role (a policy reads only some of them). */
export type ListScope = 'deny' | 'consent' | 'contract';

export interface ScopeState {
  /** Every list of this scope is loaded (and nothing holds the whole gate). */
  readonly ready: boolean;
  /** The earliest staleAt of the lists of this scope. */
  readonly staleAt: number;
}

export interface GateSnapshot {
  readonly slots: readonly ListSlot[];
  /** Every configured list has a loaded generation, and nothing holds the gate. */
  readonly ready: boolean;
  /** The earliest staleAt of any list. */
  readonly staleAt: number;
  /**
   * Readiness and staleness per scope, so that a check blocks only for the lists it consults: a stale
   * consent list must not block deny-list campaigns that never read it.
   */
  readonly scopes: Readonly<Record<ListScope, ScopeState>>;
  /** Gate-wide reasons to block every check (e.g. an unreadable name in Redis's list registry), by id. */
  readonly holds: ReadonlyMap<string, string>;
}


/**
 * A list with a source goes stale maxAgeDays after the source's own date (Bloctel: re-scrub at
 * least every 30 days, Code de la consommation R223-6). A list that never had a source date (an
 * internal list fed only by intraday additions) never goes stale.
 */
export function staleAtOf(spec: ListSpec, state: ListState | null): number {
  if (state === null || state.sourceDate === null) return Number.POSITIVE_INFINITY;
  return state.sourceDate.getTime() + spec.refresh.maxAgeDays * DAY_MS;
}

export function scopeOf(spec: ListSpec): ListScope {
  return spec.kind === 'deny' ? 'deny' : (spec.role ?? 'consent');
}

const NO_HOLDS: ReadonlyMap<string, string> = new Map();

function snapshotOf(slots: readonly ListSlot[], holds: ReadonlyMap<string, string>): GateSnapshot {
  // An empty gate (Redis mode before any list is known) is never ready: it would allow every call.
  const open = slots.length > 0 && holds.size === 0;
  const scope = (which: ListScope | null): ScopeState => {
    let staleAt = Number.POSITIVE_INFINITY;
    let ready = open;
    for (const s of slots) {
      if (which !== null && scopeOf(s.spec) !== which) continue;
      staleAt = Math.min(staleAt, s.staleAt);
      if (s.state === null) ready = false;
    }
    return Object.freeze({ ready, staleAt });
  };
  const all = scope(null);
  const scopes = Object.freeze({ deny: scope('deny'), consent: scope('consent'), contract: scope('contract') });
  return Object.freeze({ slots: Object.freeze(slots), ready: all.ready, staleAt: all.staleAt, scopes, holds });
}

function slotOf(spec: ListSpec, state: ListState | null, intraday: IntradayAdditions): ListSlot {
  return Object.freeze({ spec, state, intraday, staleAt: staleAtOf(spec, state) });
}

/** Holds the current snapshot; the only mutable reference on the check path. */
export class ListRegistry {
  #current: GateSnapshot;
  readonly #listeners = new Set<() => void>();

  constructor(specs: readonly ListSpec[]) {
    this.#current = snapshotOf(
      specs.map((spec) => slotOf(spec, null, new IntradayAdditions(spec.kind === 'allow'))),
      NO_HOLDS,
    );
  }

  /** Called after every swap of the snapshot (a list installed, a hold set or lifted). */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #swap(next: GateSnapshot): void {
    this.#current = next;
    for (const l of this.#listeners) l();
  }

  /** Blocks every check (not_ready) until released; `why` is what /readyz says. */
  hold(id: string, why: string): void {
    const holds = this.#current.holds;
    if (holds.get(id) === why) return;
    this.#swap(snapshotOf(this.#current.slots, new Map([...holds, [id, why]])));
  }

  release(id: string): void {
    const holds = this.#current.holds;
    if (!holds.has(id)) return;
    const next = new Map(holds);
    next.delete(id);
    this.#swap(snapshotOf(this.#current.slots, next));
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
    this.#swap(snapshotOf(next, this.#current.holds));
  }

  /**
   * Takes a list's generation away (its intraday additions stay): checks answer not_ready until a generation is
   * installed again. For what this build cannot read (a newer stored format): blocking beats answering from an
   * older copy.
   */
  withdraw(name: string): void {
    const slots = this.#current.slots;
    if (!slots.some((s) => s.spec.name === name && s.state !== null)) return;
    this.#swap(snapshotOf(slots.map((s) => (s.spec.name === name ? slotOf(s.spec, null, s.intraday) : s)), this.#current.holds));
  }

  /** Names of configured lists with no generation loaded yet (for /readyz). */
  missing(): string[] {
    return this.#current.slots.filter((s) => s.state === null).map((s) => s.spec.name);
  }
}
