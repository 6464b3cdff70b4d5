/**
 * Counting checks on the hot path, cheaply: one Map increment per check (prom-client's labelled
 * counters cost ~0.4 µs each, measured, so they are fed from these tallies when scraped) and one
 * fixed-bucket latency record. Counts are kept per minute, so that the same numbers feed /metrics,
 * the fleet figures in Redis and the local stats view, and per 10-second slot for the last minute's
 * sliding window (a second Map increment; the clock is read once and compared once per check).
 * Campaign names are bounded: past `maxCampaigns` distinct names, new ones count as "other".
 * No phone number is ever recorded.
 */
import { MINUTE_MS } from '../core/time.js';

export const NO_CAMPAIGN = '(none)';
export const OTHER_CAMPAIGN = 'other';
/** The last minute's window is built from slots this long: "the last minute" is exact to within one slot. */
export const SLOT_MS = 10_000;
/** Slots kept: a full minute, the slot in progress and one more for a flush that runs late. */
const KEEP_SLOTS = 8;

/** Tally key: campaign \t verdict \t reason. */
export function tallyKey(campaign: string, verdict: string, reason: string): string {
  return `${campaign}\t${verdict}\t${reason}`;
}

export interface TallyParts {
  readonly campaign: string;
  readonly verdict: string;
  readonly reason: string;
}

export function parseTallyKey(key: string): TallyParts | null {
  const parts = key.split('\t');
  if (parts.length !== 3) return null;
  return { campaign: parts[0] as string, verdict: parts[1] as string, reason: parts[2] as string };
}

/**
 * Latency buckets in microseconds, log-spaced (×1.25): fine enough for a p99 within ~12%, and
 * the Prometheus histogram uses a subset of them.
 */
export const LATENCY_BOUNDS_US: readonly number[] = (() => {
  const out: number[] = [];
  for (let v = 10; v < 10_000_000; v *= 1.25) out.push(Math.round(v));
  return out;
})();

export class LatencyBuckets {
  readonly counts = new Float64Array(LATENCY_BOUNDS_US.length + 1);
  sumUs = 0;
  count = 0;

  record(us: number): void {
    // Binary search over ~60 bounds: a handful of comparisons.
    let lo = 0;
    let hi = LATENCY_BOUNDS_US.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((LATENCY_BOUNDS_US[mid] as number) < us) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo] = (this.counts[lo] as number) + 1;
    this.sumUs += us;
    this.count++;
  }

  merge(other: LatencyBuckets): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
    this.sumUs += other.sumUs;
    this.count += other.count;
  }

  /** The upper bound of the bucket holding the q-quantile, in µs; null when empty. */
  quantileUs(q: number): number | null {
    if (this.count === 0) return null;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number;
      if (seen >= target) return LATENCY_BOUNDS_US[i] ?? (LATENCY_BOUNDS_US[LATENCY_BOUNDS_US.length - 1] as number) * 1.25;
    }
    return null;
  }
}

export interface MinuteTally {
  /** Minute start, ms since epoch. */
  readonly minute: number;
  readonly counts: Map<string, number>;
  readonly latency: LatencyBuckets;
}

export interface SlotTally {
  /** Slot start, ms since epoch (a multiple of SLOT_MS). */
  readonly slot: number;
  readonly counts: Map<string, number>;
}

export interface CheckStatsOptions {
  /** Distinct campaign names tracked before new ones count as "other". @default 100 */
  readonly maxCampaigns?: number;
  /** Minutes kept in memory for the local view. @default 1440 (a day) */
  readonly keepMinutes?: number;
  readonly now?: () => number;
}

export class CheckStats {
  readonly #maxCampaigns: number;
  readonly #keepMinutes: number;
  readonly #now: () => number;
  readonly #campaigns = new Set<string>();
  /** Tally key strings, made once per (campaign, reason, verdict): a check then hashes no new string. */
  readonly #keys = new Map<string, Map<string, { allow?: string; block?: string }>>();
  /** Counts of finished minutes since start (the current minute is added when read). */
  readonly #totals = new Map<string, number>();
  readonly #latencyTotal = new LatencyBuckets();
  readonly #minutes: MinuteTally[] = [];
  #current: MinuteTally;
  readonly #slots: SlotTally[] = [];
  #slot: SlotTally;

  constructor(options: CheckStatsOptions = {}) {
    this.#maxCampaigns = options.maxCampaigns ?? 100;
    this.#keepMinutes = options.keepMinutes ?? 1440;
    this.#now = options.now ?? Date.now;
    const now = this.#now();
    this.#current = this.#newMinute(this.#minuteOf(now));
    this.#slot = this.#newSlot(now - (now % SLOT_MS));
  }

  #newSlot(slot: number): SlotTally {
    const t: SlotTally = { slot, counts: new Map() };
    this.#slots.push(t);
    if (this.#slots.length > KEEP_SLOTS) this.#slots.shift();
    return t;
  }

  #minuteOf(ms: number): number {
    return ms - (ms % MINUTE_MS);
  }

  #newMinute(minute: number): MinuteTally {
    const m: MinuteTally = { minute, counts: new Map(), latency: new LatencyBuckets() };
    this.#minutes.push(m);
    while (this.#minutes.length > this.#keepMinutes) this.#minutes.shift();
    return m;
  }

  #tick(): MinuteTally {
    const now = this.#now();
    const slot = now - (now % SLOT_MS);
    // A minute starts on a slot boundary: the minute is looked at only when the slot changes.
    if (slot === this.#slot.slot) return this.#current;
    this.#slot = this.#newSlot(slot);
    const minute = this.#minuteOf(now);
    if (minute !== this.#current.minute) {
      // Once a minute, not per check: the finished minute joins the totals since start.
      for (const [key, n] of this.#current.counts) this.#totals.set(key, (this.#totals.get(key) ?? 0) + n);
      this.#latencyTotal.merge(this.#current.latency);
      this.#current = this.#newMinute(minute);
    }
    return this.#current;
  }

  #key(campaignLabel: string, verdict: string, reason: string): string {
    let byReason = this.#keys.get(campaignLabel);
    if (byReason === undefined) this.#keys.set(campaignLabel, (byReason = new Map()));
    let pair = byReason.get(reason);
    if (pair === undefined) byReason.set(reason, (pair = {}));
    const v = verdict === 'allow' ? 'allow' : 'block';
    return (pair[v] ??= tallyKey(campaignLabel, verdict, reason));
  }

  /** The label a campaign is counted under (bounded cardinality). */
  campaignLabel(campaign: string | null): string {
    if (campaign === null) return NO_CAMPAIGN;
    if (this.#campaigns.has(campaign)) return campaign;
    if (this.#campaigns.size < this.#maxCampaigns && campaign !== OTHER_CAMPAIGN && campaign !== NO_CAMPAIGN) {
      this.#campaigns.add(campaign);
      return campaign;
    }
    return OTHER_CAMPAIGN;
  }

  record(campaignLabel: string, verdict: string, reason: string, n = 1): void {
    const key = this.#key(campaignLabel, verdict, reason);
    const m = this.#tick();
    m.counts.set(key, (m.counts.get(key) ?? 0) + n);
    const t = this.#slot.counts;
    t.set(key, (t.get(key) ?? 0) + n);
  }

  /** One single check: its count and its server-side latency, with one clock read. */
  recordCheck(campaignLabel: string, verdict: string, reason: string, latencyUs: number): void {
    const key = this.#key(campaignLabel, verdict, reason);
    const m = this.#tick();
    m.counts.set(key, (m.counts.get(key) ?? 0) + 1);
    const t = this.#slot.counts;
    t.set(key, (t.get(key) ?? 0) + 1);
    m.latency.record(latencyUs);
  }

  /** Counts since start, by tally key (for Prometheus counters; built when scraped). */
  totals(): Map<string, number> {
    const m = this.#tick();
    const out = new Map(this.#totals);
    for (const [key, n] of m.counts) out.set(key, (out.get(key) ?? 0) + n);
    return out;
  }

  /** Latencies since start (for the Prometheus histogram; built when scraped). */
  latencyTotal(): LatencyBuckets {
    const m = this.#tick();
    const out = new LatencyBuckets();
    out.merge(this.#latencyTotal);
    out.merge(m.latency);
    return out;
  }

  /** 10-second slots from `since` (inclusive, ms) to now, oldest first (the last 80 s at most). */
  slotsSince(since: number): readonly SlotTally[] {
    this.#tick();
    return this.#slots.filter((t) => t.slot >= since);
  }

  /** Minutes from `since` (inclusive, ms) to now, oldest first. */
  minutesSince(since: number): readonly MinuteTally[] {
    this.#tick();
    return this.#minutes.filter((m) => m.minute >= since);
  }
}
