/**
 * The supervisor's view, computed from check counts (pure): block rate over sliding windows, the last
 * hour per minute, campaigns over 15 minutes. "The last minute" is the last 60 s, read from 10-second
 * slots (the oldest slot counts for the part of it inside the window): checks that straddle a minute
 * boundary count whole for ~50 s whatever the wall-clock minute. The longer windows use per-minute
 * counts, the oldest minute counting in part (at most one minute's share of the window off). The same JSON feeds GET /api/stats,
 * the /stats socket and the dashboard. It never contains a phone number: counts are keyed by
 * campaign, verdict and reason only.
 */
import { parseTallyKey, SLOT_MS, type TallyParts } from './check-stats.js';
import { MINUTE_MS } from '../core/time.js';

export interface MinuteCounts {
  /** Minute start, ms since epoch. */
  readonly minute: number;
  /** tallyKey(campaign, verdict, reason) → count. */
  readonly counts: ReadonlyMap<string, number>;
}

/** Counts of one 10-second slot (supervision/check-stats.ts SLOT_MS), for the last minute's window. */
export interface SlotCounts {
  /** Slot start, ms since epoch. */
  readonly slot: number;
  readonly counts: ReadonlyMap<string, number>;
}

export interface WindowFigures {
  readonly checks: number;
  readonly blocked: number;
  readonly blockRate: number;
  readonly byReason: Record<string, number>;
}

export interface CampaignFigures {
  readonly campaign: string;
  readonly checks: number;
  readonly blocked: number;
  readonly blockRate: number;
  readonly topReasons: { reason: string; count: number }[];
}

export interface SidecarView {
  readonly id: string;
  readonly lastSeen: string;
  readonly up: boolean;
  readonly mode: 'embedded' | 'redis';
  readonly checks1m: number;
  readonly blocked1m: number;
  readonly p99Ms: number | null;
}

export interface ListView {
  readonly name: string;
  readonly kind: 'deny' | 'allow';
  readonly generation: string | null;
  readonly count: number | null;
  readonly sourceDate: string | null;
  readonly loadedAt: string | null;
  readonly freshness: 'fresh' | 'ageing' | 'stale' | 'none';
  readonly staleAt: string | null;
  readonly intradayAdditions: number;
  readonly nextRefresh: string | null;
}

export interface StatsView {
  readonly scope: 'fleet' | 'process';
  readonly generatedAt: string;
  readonly windows: Record<'1m' | '15m' | '1h' | '1d', WindowFigures>;
  readonly series: { t: number; checks: number; blocked: number }[];
  readonly campaigns: CampaignFigures[];
  readonly sidecars: SidecarView[];
  readonly lists: ListView[];
  readonly alerts: readonly unknown[];
}

export const WINDOWS_MS = { '1m': MINUTE_MS, '15m': 15 * MINUTE_MS, '1h': 60 * MINUTE_MS, '1d': 1440 * MINUTE_MS } as const;

/** How much of a period (a minute, a slot) lies inside [now − windowMs, now]: the oldest counts in part, so windows slide smoothly. */
function weightOf(period: number, periodMs: number, now: number, windowMs: number): number {
  const from = now - windowMs;
  const start = Math.max(period, from);
  const end = Math.min(period + periodMs, now);
  if (end <= start) return 0;
  // The current period is only partly elapsed: all of it that exists is inside the window.
  const span = Math.min(periodMs, now - period);
  return span <= 0 ? 0 : Math.min(1, (end - start) / span);
}

function rate(blocked: number, checks: number): number {
  return checks === 0 ? 0 : blocked / checks;
}

/** Every tally of the minutes inside the window, with its count weighted by how much of its minute is inside. */
function forEachWeighted(minutes: readonly MinuteCounts[], now: number, windowMs: number, visit: (k: TallyParts, v: number) => void, periodMs = MINUTE_MS): void {
  for (const m of minutes) {
    const w = weightOf(m.minute, periodMs, now, windowMs);
    if (w === 0) continue;
    for (const [key, n] of m.counts) {
      const k = parseTallyKey(key);
      if (k !== null) visit(k, n * w);
    }
  }
}

export function windowFigures(minutes: readonly MinuteCounts[], now: number, windowMs: number, periodMs = MINUTE_MS): WindowFigures {
  let checks = 0;
  let blocked = 0;
  const byReason: Record<string, number> = {};
  forEachWeighted(
    minutes,
    now,
    windowMs,
    (k, v) => {
      checks += v;
      if (k.verdict === 'block') blocked += v;
      byReason[k.reason] = (byReason[k.reason] ?? 0) + v;
    },
    periodMs,
  );
  for (const r of Object.keys(byReason)) byReason[r] = Math.round(byReason[r] as number);
  const c = Math.round(checks);
  const b = Math.round(blocked);
  return { checks: c, blocked: b, blockRate: rate(b, c), byReason };
}

/** The last 60 s, from 10-second slots. */
export function lastMinuteFigures(slots: readonly SlotCounts[], now: number): WindowFigures {
  return windowFigures(
    slots.map((t) => ({ minute: t.slot, counts: t.counts })),
    now,
    WINDOWS_MS['1m'],
    SLOT_MS,
  );
}

export function campaignFigures(minutes: readonly MinuteCounts[], now: number, windowMs: number): CampaignFigures[] {
  const per = new Map<string, { checks: number; blocked: number; reasons: Map<string, number> }>();
  forEachWeighted(minutes, now, windowMs, (k, v) => {
    let c = per.get(k.campaign);
    if (c === undefined) per.set(k.campaign, (c = { checks: 0, blocked: 0, reasons: new Map() }));
    c.checks += v;
    if (k.verdict === 'block') {
      c.blocked += v;
      c.reasons.set(k.reason, (c.reasons.get(k.reason) ?? 0) + v);
    }
  });
  return [...per]
    .map(([campaign, c]) => {
      const checks = Math.round(c.checks);
      const blocked = Math.round(c.blocked);
      const topReasons = [...c.reasons]
        .map(([reason, count]) => ({ reason, count: Math.round(count) }))
        .filter((r) => r.count > 0)
        .sort((a, b) => b.count - a.count)
        .slice(0, 3);
      return { campaign, checks, blocked, blockRate: rate(blocked, checks), topReasons };
    })
    .filter((c) => c.checks > 0)
    .sort((a, b) => b.checks - a.checks);
}

export function minuteSeries(minutes: readonly MinuteCounts[], now: number, count = 60): { t: number; checks: number; blocked: number }[] {
  const last = now - (now % MINUTE_MS);
  const byMinute = new Map(minutes.map((m) => [m.minute, m]));
  const out: { t: number; checks: number; blocked: number }[] = [];
  for (let t = last - (count - 1) * MINUTE_MS; t <= last; t += MINUTE_MS) {
    let checks = 0;
    let blocked = 0;
    for (const [key, n] of byMinute.get(t)?.counts ?? []) {
      const k = parseTallyKey(key);
      if (k === null) continue;
      checks += n;
      if (k.verdict === 'block') blocked += n;
    }
    out.push({ t, checks, blocked });
  }
  return out;
}

export function buildStatsView(input: {
  scope: 'fleet' | 'process';
  now: number;
  minutes: readonly MinuteCounts[];
  /** 10-second slots of at least the last 70 s, for the '1m' window. */
  slots: readonly SlotCounts[];
  sidecars: SidecarView[];
  lists: ListView[];
  alerts: readonly unknown[];
}): StatsView {
  const { now, minutes } = input;
  return {
    scope: input.scope,
    generatedAt: new Date(now).toISOString(),
    windows: {
      '1m': lastMinuteFigures(input.slots, now),
      '15m': windowFigures(minutes, now, WINDOWS_MS['15m']),
      '1h': windowFigures(minutes, now, WINDOWS_MS['1h']),
      '1d': windowFigures(minutes, now, WINDOWS_MS['1d']),
    },
    series: minuteSeries(minutes, now),
    campaigns: campaignFigures(minutes, now, WINDOWS_MS['15m']),
    sidecars: input.sidecars,
    lists: input.lists,
    alerts: input.alerts,
  };
}
