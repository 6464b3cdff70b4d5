/**
 * Fleet figures in Redis: every few seconds each sidecar adds what it counted since its last flush
 * to one hash per sidecar per minute and to the fleet's hash of that minute (both expire after a
 * day and a bit), so any sidecar can answer for the whole fleet. Complete minutes never change
 * again once flushed, so readers cache them and fetch only the last two. The last minute's sliding
 * window reads 10-second slot hashes (per sidecar and fleet, expiring after a few minutes) instead,
 * so checks straddling a minute boundary count whole. FleetStats is the fleet's StatsFigures
 * (supervision/stats-figures.ts), with the live sidecars' heartbeats for the sidecar table.
 */
import { type CheckStats, SLOT_MS } from './check-stats.js';
import type { Logger } from '../core/logger.js';
import { statsKey, statsSlotKey } from '../redis/keys.js';
import type { StatsFigures } from './stats-figures.js';
import { lastMinuteFigures, type MinuteCounts, type SidecarView, type SlotCounts } from './stats-view.js';
import { MINUTE_MS } from '../core/time.js';

const P99_FIELD = '_p99us';
/** Slot hashes outlive the 1-minute window they serve by a margin for late readers. */
const SLOT_TTL_MS = 3 * MINUTE_MS;
/** Slots a reader fetches: the one in progress and the six before it cover the last 60 s. */
const WINDOW_SLOTS = 7;

/** What FleetStats needs of the Redis store (redis/stats-store.ts): its prefix and the stats hashes. */
export interface FleetStatsStore {
  readonly prefix: string;
  addStats(entries: ReadonlyArray<{ readonly key: string; readonly incr: Readonly<Record<string, number>>; readonly set?: Readonly<Record<string, string>> }>, ttlMs: number): Promise<void>;
  readStats(keys: readonly string[]): Promise<Record<string, string>[]>;
}

/** The sidecars whose heartbeat is still kept (lastSeen: ms, Redis clock): redis/fleet.ts. */
export interface LiveSidecars {
  liveSidecars(): Promise<ReadonlyArray<{ readonly id: string; readonly lastSeen: number }>>;
}

export interface FleetStatsOptions {
  readonly store: FleetStatsStore;
  readonly sidecars: LiveSidecars;
  readonly stats: CheckStats;
  readonly instanceId: string;
  readonly logger: Logger;
  /** @default 5000 */
  readonly flushEveryMs?: number;
  /** Expiry of the minute hashes. @default 26 hours (the 1-day window plus margin) */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

export class FleetStats implements StatsFigures {
  readonly scope = 'fleet';
  readonly #o: FleetStatsOptions;
  readonly #now: () => number;
  /** What was already flushed, per minute (the last two minutes only). */
  readonly #flushed = new Map<number, Map<string, number>>();
  /** What was already flushed, per slot (the slots CheckStats still keeps). */
  readonly #flushedSlots = new Map<number, Map<string, number>>();
  /** Complete fleet minutes read from Redis. */
  readonly #cache = new Map<number, MinuteCounts>();
  #timer: NodeJS.Timeout | null = null;

  constructor(options: FleetStatsOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.flush().catch((err: unknown) => this.#o.logger.warn({ err }, 'flushing fleet stats failed; will retry'));
    }, this.#o.flushEveryMs ?? 5000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.flush().catch(() => undefined);
  }

  /** Adds the counts not yet flushed (current and previous minute) to Redis. */
  async flush(): Promise<void> {
    const now = this.#now();
    const since = now - (now % MINUTE_MS) - MINUTE_MS;
    const entries: { key: string; incr: Record<string, number>; set?: Record<string, string> }[] = [];
    const pending: [number, string, number][] = [];
    for (const m of this.#o.stats.minutesSince(since)) {
      const done = this.#flushed.get(m.minute) ?? new Map<string, number>();
      const incr: Record<string, number> = {};
      for (const [key, n] of m.counts) {
        const delta = n - (done.get(key) ?? 0);
        if (delta > 0) {
          incr[key] = delta;
          pending.push([m.minute, key, n]);
        }
      }
      const p99 = m.latency.quantileUs(0.99);
      const set = p99 === null ? undefined : { [P99_FIELD]: String(p99) };
      if (Object.keys(incr).length === 0 && set === undefined) continue;
      entries.push({ key: statsKey(this.#o.store.prefix, m.minute, this.#o.instanceId), incr, ...(set ? { set } : {}) });
      entries.push({ key: statsKey(this.#o.store.prefix, m.minute, 'fleet'), incr });
    }
    const slotEntries: { key: string; incr: Record<string, number> }[] = [];
    const pendingSlots: [number, string, number][] = [];
    const slots = this.#o.stats.slotsSince(0);
    for (const t of slots) {
      const done = this.#flushedSlots.get(t.slot);
      const incr: Record<string, number> = {};
      for (const [key, n] of t.counts) {
        const delta = n - (done?.get(key) ?? 0);
        if (delta > 0) {
          incr[key] = delta;
          pendingSlots.push([t.slot, key, n]);
        }
      }
      if (Object.keys(incr).length === 0) continue;
      slotEntries.push({ key: statsSlotKey(this.#o.store.prefix, t.slot, this.#o.instanceId), incr });
      slotEntries.push({ key: statsSlotKey(this.#o.store.prefix, t.slot, 'fleet'), incr });
    }
    if (entries.length > 0) await this.#o.store.addStats(entries, this.#o.ttlMs ?? 26 * 3_600_000);
    if (slotEntries.length > 0) await this.#o.store.addStats(slotEntries, SLOT_TTL_MS);
    // Only after Redis took them: a failed flush is retried whole next time.
    for (const [map, list] of [
      [this.#flushed, pending],
      [this.#flushedSlots, pendingSlots],
    ] as const) {
      for (const [period, key, n] of list) {
        let done = map.get(period);
        if (done === undefined) map.set(period, (done = new Map()));
        done.set(key, n);
      }
    }
    for (const minute of this.#flushed.keys()) if (minute < since) this.#flushed.delete(minute);
    const oldestSlot = slots[0]?.slot ?? Number.POSITIVE_INFINITY;
    for (const slot of this.#flushedSlots.keys()) if (slot < oldestSlot) this.#flushedSlots.delete(slot);
  }

  /** The starts of the slots covering the last 60 s, oldest first. */
  #windowSlots(now: number): number[] {
    const last = now - (now % SLOT_MS);
    return Array.from({ length: WINDOW_SLOTS }, (_, i) => last - (WINDOW_SLOTS - 1 - i) * SLOT_MS);
  }

  /** The fleet's 10-second slots covering the last 60 s. */
  async fleetSlots(): Promise<SlotCounts[]> {
    const starts = this.#windowSlots(this.#now());
    const hashes = await this.#o.store.readStats(starts.map((t) => statsSlotKey(this.#o.store.prefix, t, 'fleet')));
    return starts.map((slot, i) => ({ slot, counts: countsOf(hashes[i] ?? {}) }));
  }

  /** The fleet's minutes from `sinceMs` to now. */
  async fleetMinutes(sinceMs: number): Promise<MinuteCounts[]> {
    const now = this.#now();
    const last = now - (now % MINUTE_MS);
    const wanted: number[] = [];
    for (let t = sinceMs - (sinceMs % MINUTE_MS); t <= last; t += MINUTE_MS) wanted.push(t);
    // Minutes older than two flush periods are complete: cached once read.
    const settled = last - 2 * MINUTE_MS;
    const fetch = wanted.filter((t) => t > settled || !this.#cache.has(t));
    const hashes = await this.#o.store.readStats(fetch.map((t) => statsKey(this.#o.store.prefix, t, 'fleet')));
    const fetched = new Map<number, MinuteCounts>();
    fetch.forEach((t, i) => {
      const m = { minute: t, counts: countsOf(hashes[i] ?? {}) };
      fetched.set(t, m);
      if (t <= settled) this.#cache.set(t, m);
    });
    for (const t of this.#cache.keys()) if (t < sinceMs - MINUTE_MS) this.#cache.delete(t);
    return wanted.map((t) => fetched.get(t) ?? this.#cache.get(t) ?? { minute: t, counts: new Map() });
  }

  minutes(sinceMs: number): Promise<MinuteCounts[]> {
    return this.fleetMinutes(sinceMs);
  }

  lastMinuteSlots(): Promise<readonly SlotCounts[]> {
    return this.fleetSlots();
  }

  /** Every live sidecar, with its figures of the last minute. */
  async sidecars(now: number): Promise<SidecarView[]> {
    const live = await this.#o.sidecars.liveSidecars();
    const figures = await this.sidecarFigures(live.map((s) => s.id));
    return live
      .map((s) => {
        const f = figures.get(s.id);
        return {
          id: s.id,
          lastSeen: new Date(s.lastSeen).toISOString(),
          // Heartbeats come every 5 s: 15 s without one is a sidecar in trouble.
          up: now - s.lastSeen < 15_000,
          mode: 'redis' as const,
          checks1m: f?.checks ?? 0,
          blocked1m: f?.blocked ?? 0,
          p99Ms: f?.p99Us == null ? null : f.p99Us / 1000,
        };
      })
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Each sidecar's checks over the last 60 s (its slot hashes) and its p99 of the last two minutes (for the sidecar table). */
  async sidecarFigures(ids: readonly string[]): Promise<Map<string, { checks: number; blocked: number; p99Us: number | null }>> {
    const now = this.#now();
    const minute = now - (now % MINUTE_MS);
    const starts = this.#windowSlots(now);
    const per = 2 + starts.length;
    const keys = ids.flatMap((id) => [
      statsKey(this.#o.store.prefix, minute - MINUTE_MS, id),
      statsKey(this.#o.store.prefix, minute, id),
      ...starts.map((t) => statsSlotKey(this.#o.store.prefix, t, id)),
    ]);
    const hashes = await this.#o.store.readStats(keys);
    const out = new Map<string, { checks: number; blocked: number; p99Us: number | null }>();
    ids.forEach((id, i) => {
      const prev = hashes[per * i] ?? {};
      const cur = hashes[per * i + 1] ?? {};
      const slots = starts.map((slot, j) => ({ slot, counts: countsOf(hashes[per * i + 2 + j] ?? {}) }));
      const w = lastMinuteFigures(slots, now);
      const p99 = cur[P99_FIELD] ?? prev[P99_FIELD];
      out.set(id, { checks: w.checks, blocked: w.blocked, p99Us: p99 === undefined ? null : Number(p99) });
    });
    return out;
  }
}

/** A stats hash's tallies (fields starting with '_' are not counts). */
function countsOf(hash: Record<string, string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [k, v] of Object.entries(hash)) if (!k.startsWith('_')) counts.set(k, Number(v));
  return counts;
}
