/**
 * Fleet figures in Redis: every few seconds each sidecar adds what it counted since its last flush
 * to one hash per sidecar per minute and to the fleet's hash of that minute (both expire after a
 * day and a bit), so any sidecar can answer for the whole fleet. Complete minutes never change
 * again once flushed, so readers cache them and fetch only the last two.
 */
import type { CheckStats } from './check-stats.js';
import type { Logger } from './logger.js';
import { statsKey } from './redis-keys.js';
import type { RedisStore } from './redis-store.js';
import type { MinuteCounts } from './stats-view.js';

const MINUTE_MS = 60_000;
const P99_FIELD = '_p99us';

export interface FleetStatsOptions {
  readonly store: RedisStore;
  readonly stats: CheckStats;
  readonly instanceId: string;
  readonly logger: Logger;
  /** @default 5000 */
  readonly flushEveryMs?: number;
  /** Expiry of the minute hashes. @default 26 hours (the 1-day window plus margin) */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

export class FleetStats {
  readonly #o: FleetStatsOptions;
  readonly #now: () => number;
  /** What was already flushed, per minute (the last two minutes only). */
  readonly #flushed = new Map<number, Map<string, number>>();
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
    if (entries.length > 0) await this.#o.store.addStats(entries, this.#o.ttlMs ?? 26 * 3_600_000);
    // Only after Redis took them: a failed flush is retried whole next time.
    for (const [minute, key, n] of pending) {
      let done = this.#flushed.get(minute);
      if (done === undefined) this.#flushed.set(minute, (done = new Map()));
      done.set(key, n);
    }
    for (const minute of this.#flushed.keys()) if (minute < since) this.#flushed.delete(minute);
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
      const counts = new Map<string, number>();
      for (const [k, v] of Object.entries(hashes[i] ?? {})) if (!k.startsWith('_')) counts.set(k, Number(v));
      const m = { minute: t, counts };
      fetched.set(t, m);
      if (t <= settled) this.#cache.set(t, m);
    });
    for (const t of this.#cache.keys()) if (t < sinceMs - MINUTE_MS) this.#cache.delete(t);
    return wanted.map((t) => fetched.get(t) ?? this.#cache.get(t) ?? { minute: t, counts: new Map() });
  }

  /** One sidecar's counts and p99 over its last two minutes (for the sidecar table). */
  async sidecarFigures(ids: readonly string[]): Promise<Map<string, { checks: number; blocked: number; p99Us: number | null }>> {
    const now = this.#now();
    const minute = now - (now % MINUTE_MS);
    const keys = ids.flatMap((id) => [statsKey(this.#o.store.prefix, minute - MINUTE_MS, id), statsKey(this.#o.store.prefix, minute, id)]);
    const hashes = await this.#o.store.readStats(keys);
    const out = new Map<string, { checks: number; blocked: number; p99Us: number | null }>();
    ids.forEach((id, i) => {
      const prev = hashes[2 * i] ?? {};
      const cur = hashes[2 * i + 1] ?? {};
      // A sliding minute: all of the current one, the part of the previous one still inside it.
      const w = 1 - (now - minute) / MINUTE_MS;
      let checks = 0;
      let blocked = 0;
      for (const [h, weight] of [[prev, w], [cur, 1]] as const) {
        for (const [k, v] of Object.entries(h)) {
          if (k.startsWith('_')) continue;
          const n = Number(v) * weight;
          checks += n;
          if (k.split('\t')[1] === 'block') blocked += n;
        }
      }
      const p99 = cur[P99_FIELD] ?? prev[P99_FIELD];
      out.set(id, { checks: Math.round(checks), blocked: Math.round(blocked), p99Us: p99 === undefined ? null : Number(p99) });
    });
    return out;
  }
}
