/**
 * The supervisor's data: the stats view of this process (embedded) or of the whole fleet (Redis), as its
 * StatsFigures port gives them (supervision/stats-figures.ts), computed at most once a second however many
 * dashboards watch, and the supervision alert rules evaluated on it: a campaign's block rate, the check p99, Redis reachability, the share of Redis answers
 * that were `unconfirmed` (per list and fleet-wide), and whether the audit trail is being written.
 */
import type { AlertInput, AlertRegistry } from './alerts.js';
import type { AuditLogStats } from '../audit/writer.js';
import type { CheckStats } from './check-stats.js';
import type { ConfirmStats, ListConfirmFigures } from './confirm-stats.js';
import type { StatsFigures } from './stats-figures.js';
import type { ListRegistry } from '../lists/registry.js';
import type { Logger } from '../core/logger.js';
import { freshness } from '../refresh/guards.js';
import { buildStatsView, type CampaignFigures, type ListView, type MinuteCounts, type StatsView, WINDOWS_MS, windowFigures } from './stats-view.js';
import { Reason } from '../check/verdict.js';

export interface AlertRules {
  /** A campaign's block rate over this ratio … @default 0.25 */
  readonly blockRateThreshold: number;
  /** … over this window … @default 15 minutes */
  readonly blockRateWindowMs: number;
  /** … with at least this many checks raises an alert. @default 200 */
  readonly blockRateMinChecks: number;
  /** Server-side check p99 over this (last minute, at least 100 checks) raises an alert. @default 5 */
  readonly p99ThresholdMs: number;
  /** A list's share of Redis answers that were `unconfirmed` (or the fleet's share of checks) over this … @default 0.01 */
  readonly unconfirmedRatio: number;
  /** … over this window … @default 5 minutes */
  readonly unconfirmedWindowMs: number;
  /** … with at least this many unconfirmed answers raises an alert (critical from half of them on). @default 10 */
  readonly unconfirmedMinCount: number;
}

export const DEFAULT_ALERT_RULES: AlertRules = Object.freeze({
  blockRateThreshold: 0.25,
  blockRateWindowMs: WINDOWS_MS['15m'],
  blockRateMinChecks: 200,
  p99ThresholdMs: 5,
  unconfirmedRatio: 0.01,
  unconfirmedWindowMs: 5 * 60_000,
  unconfirmedMinCount: 10,
});

/** From this share on, nearly nothing is confirmed: Redis has stopped answering, not merely hiccupped. */
const UNCONFIRMED_CRITICAL_RATIO = 0.5;

function unconfirmedAlert(id: string, what: string, n: number, of: number, rules: AlertRules, list?: string): AlertInput | null {
  if (n < rules.unconfirmedMinCount || of === 0 || n / of <= rules.unconfirmedRatio) return null;
  const ratio = n / of;
  return {
    id,
    kind: 'unconfirmed_rate',
    severity: ratio >= UNCONFIRMED_CRITICAL_RATIO ? 'critical' : 'warning',
    message: `${what}: ${(ratio * 100).toFixed(1)}% unconfirmed (${n} of ${of}) over ${Math.round(rules.unconfirmedWindowMs / 60_000)} min (threshold ${(rules.unconfirmedRatio * 100).toFixed(1)}%): these hits are blocked; is Redis answering?`,
    ...(list === undefined ? {} : { list }),
    details: { unconfirmed: n, of, ratio, windowMs: rules.unconfirmedWindowMs },
  };
}

/** Pure: the lists whose Redis answers were too often `unconfirmed` (this sidecar's confirmations). */
export function unconfirmedListAlerts(lists: readonly ListConfirmFigures[], rules: AlertRules): AlertInput[] {
  return lists.flatMap((f) => unconfirmedAlert(`unconfirmed_rate:${f.list}`, `list ${f.list}: Redis confirmations`, f.unconfirmed, f.answers, rules, f.list) ?? []);
}

/** Pure: the share of all checks (fleet-wide in Redis mode) answered `unconfirmed`. */
export function unconfirmedOverallAlert(checks: number, unconfirmed: number, scope: 'fleet' | 'process', rules: AlertRules): AlertInput | null {
  return unconfirmedAlert('unconfirmed_rate', scope === 'fleet' ? 'fleet checks' : 'checks', unconfirmed, checks, rules);
}

/** Pure: which campaigns break the block-rate rule. */
export function blockRateAlerts(campaigns: readonly CampaignFigures[], rules: AlertRules): AlertInput[] {
  return campaigns
    .filter((c) => c.checks >= rules.blockRateMinChecks && c.blockRate > rules.blockRateThreshold)
    .map((c) => ({
      id: `block_rate:${c.campaign}`,
      kind: 'block_rate' as const,
      severity: 'warning' as const,
      message: `campaign ${c.campaign}: ${(c.blockRate * 100).toFixed(1)}% of ${c.checks} checks blocked over ${Math.round(rules.blockRateWindowMs / 60_000)} min (threshold ${(rules.blockRateThreshold * 100).toFixed(0)}%)${c.topReasons[0] ? `, mostly ${c.topReasons[0].reason}` : ''}`,
      details: { campaign: c.campaign, checks: c.checks, blocked: c.blocked, blockRate: c.blockRate, topReasons: c.topReasons },
    }));
}

export interface StatsServiceOptions {
  readonly stats: CheckStats;
  readonly registry: ListRegistry;
  readonly alerts: AlertRegistry;
  readonly instanceId: string;
  /** The figures the view is computed from: the fleet's (Redis mode, stats on) or this process's (stats-figures.ts). */
  readonly figures: StatsFigures;
  readonly nextRefresh: () => Record<string, string | null>;
  readonly logger: Logger;
  readonly rules?: Partial<AlertRules>;
  readonly now?: () => number;
  /** Redis's answers per list (Redis mode); null: not counted. */
  readonly confirms?: ConfirmStats | null;
  /** The audit trail's counters; null: no audit trail. */
  readonly audit?: (() => AuditLogStats) | null;
}

export class StatsService {
  readonly #o: StatsServiceOptions;
  readonly #rules: AlertRules;
  readonly #now: () => number;
  #cached: { at: number; view: Promise<StatsView> } | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** The minutes the latest view was computed from (the fleet's in Redis mode). */
  #lastMinutes: { scope: 'fleet' | 'process'; minutes: readonly MinuteCounts[] } | null = null;
  /** Audit records lost as of the previous evaluation. */
  #auditDropped = 0;

  constructor(options: StatsServiceOptions) {
    this.#o = options;
    this.#rules = { ...DEFAULT_ALERT_RULES, ...options.rules };
    this.#now = options.now ?? Date.now;
  }

  /** The view, recomputed at most once a second. */
  view(): Promise<StatsView> {
    const now = this.#now();
    if (this.#cached !== null && now - this.#cached.at < 1000) return this.#cached.view;
    const view = this.#compute(now);
    this.#cached = { at: now, view };
    view.catch(() => {
      if (this.#cached?.view === view) this.#cached = null;
    });
    return view;
  }

  #lists(now: number): ListView[] {
    const next = this.#o.nextRefresh();
    return this.#o.registry.current.slots.map((s) => {
      const st = s.state;
      let fresh: ListView['freshness'] = 'none';
      let staleAt: string | null = null;
      if (st !== null && st.sourceDate !== null) {
        const f = freshness({ sourceDate: st.sourceDate, fetchedAt: st.loadedAt }, new Date(now), { maxAgeDays: s.spec.refresh.maxAgeDays, warnDays: s.spec.refresh.warnDays });
        fresh = f.state;
        staleAt = f.staleAt.toISOString();
      }
      return {
        name: s.spec.name,
        kind: s.spec.kind,
        generation: st?.generation ?? null,
        count: st?.count ?? null,
        sourceDate: st?.sourceDate?.toISOString() ?? null,
        loadedAt: st?.loadedAt.toISOString() ?? null,
        freshness: fresh,
        staleAt,
        intradayAdditions: s.intraday.size,
        nextRefresh: next[s.spec.name] ?? null,
      };
    });
  }

  async #compute(now: number): Promise<StatsView> {
    const { figures } = this.#o;
    const [minutes, slots, sidecars] = await Promise.all([figures.minutes(now - WINDOWS_MS['1d'] - 60_000), figures.lastMinuteSlots(now), figures.sidecars(now)]);
    this.#lastMinutes = { scope: figures.scope, minutes };
    return buildStatsView({ scope: figures.scope, now, minutes, slots, sidecars, lists: this.#lists(now), alerts: this.#o.alerts.active() });
  }

  /** Evaluates the supervision alert rules now. */
  async evaluate(redisUp: boolean | null): Promise<void> {
    const { alerts } = this.#o;
    if (redisUp === false) {
      alerts.raise({ id: 'redis_unreachable', kind: 'redis_unreachable', severity: 'critical', message: 'Redis is unreachable: every Bloom hit is blocked as unconfirmed until it is back' });
    } else {
      alerts.clear('redis_unreachable');
    }
    // Before the fleet view: these need no Redis, and Redis trouble is when they matter.
    this.#evaluateAudit();
    if (this.#o.confirms != null) this.#replaceKind('unconfirmed_rate', unconfirmedListAlerts(this.#o.confirms.figures(this.#rules.unconfirmedWindowMs), this.#rules), (a) => a.list !== undefined);
    const view = await this.view();
    const last = this.#lastMinutes;
    if (last !== null) {
      const w = windowFigures(last.minutes, this.#now(), this.#rules.unconfirmedWindowMs);
      const overall = unconfirmedOverallAlert(w.checks, w.byReason[Reason.UNCONFIRMED] ?? 0, last.scope, this.#rules);
      if (overall !== null) alerts.raise(overall);
      else alerts.clear('unconfirmed_rate');
    }
    const firing = blockRateAlerts(view.campaigns, this.#rules);
    const ids = new Set(firing.map((a) => a.id));
    for (const a of firing) alerts.raise(a);
    for (const a of alerts.active()) if (a.kind === 'block_rate' && !ids.has(a.id)) alerts.clear(a.id);

    const now = this.#now();
    const recent = this.#o.stats.minutesSince(now - 60_000);
    const merged = recent[recent.length - 1]?.latency;
    const p99 = merged !== undefined && merged.count >= 100 ? merged.quantileUs(0.99) : null;
    if (p99 !== null && p99 / 1000 > this.#rules.p99ThresholdMs) {
      alerts.raise({ id: 'latency', kind: 'latency', severity: 'warning', message: `check p99 ${(p99 / 1000).toFixed(2)} ms over the last minute (threshold ${this.#rules.p99ThresholdMs} ms)`, details: { p99Ms: p99 / 1000 } });
    } else if (p99 !== null) {
      alerts.clear('latency');
    }
  }

  /** Raises `firing`, clears the other active alerts of `kind` that `mine` selects. */
  #replaceKind(kind: AlertInput['kind'], firing: readonly AlertInput[], mine: (a: AlertInput) => boolean): void {
    const { alerts } = this.#o;
    const ids = new Set(firing.map((a) => a.id));
    for (const a of firing) alerts.raise(a);
    for (const a of alerts.active()) if (a.kind === kind && mine(a) && !ids.has(a.id)) alerts.clear(a.id);
  }

  /** Critical while the audit trail cannot be written or lost records since the last evaluation. */
  #evaluateAudit(): void {
    if (this.#o.audit == null) return;
    const s = this.#o.audit();
    const lostNow = s.dropped - this.#auditDropped;
    this.#auditDropped = s.dropped;
    if (s.failing || lostNow > 0) {
      this.#o.alerts.raise({
        id: 'audit_unavailable',
        kind: 'audit_unavailable',
        severity: 'critical',
        message: `audit trail ${s.failing ? 'cannot be written (disk full or failing)' : 'is losing records'}: ${s.dropped} records lost since start, ${s.pendingBytes} bytes waiting; checks whose policy needs its audit record block as audit_unavailable`,
        details: { failing: s.failing, lost: s.dropped, pendingBytes: s.pendingBytes },
      });
    } else {
      this.#o.alerts.clear('audit_unavailable');
    }
  }

  start(redisUp: (() => boolean) | null, everyMs = 10_000): void {
    const tick = (): void => {
      this.evaluate(redisUp === null ? null : redisUp()).catch((err: unknown) => this.#o.logger.warn({ err }, 'evaluating alert rules failed'));
    };
    this.#timer = setInterval(tick, everyMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
  }
}
