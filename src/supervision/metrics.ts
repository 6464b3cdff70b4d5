/**
 * Prometheus metrics (the only user of prom-client), read at scrape time from the same sources as
 * the stats view: the check tallies, the list registry, the alert registry, the backend. Nothing
 * here runs per check.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AlertRegistry } from './alerts.js';
import type { AuditLogStats } from '../audit/writer.js';
import type { ConfirmStats } from './confirm-stats.js';
import { type CheckStats, LATENCY_BOUNDS_US, parseTallyKey } from './check-stats.js';
import type { ListRegistry } from '../lists/registry.js';
import type { RefreshOutcome } from '../refresh/refresh.js';

export interface MetricsSources {
  readonly stats: CheckStats;
  readonly registry: ListRegistry;
  readonly alerts: AlertRegistry;
  readonly connections: () => number;
  /** null in embedded mode. */
  readonly redisUp: (() => boolean) | null;
  /** Times the Redis server changed (fail-over, restart); null or absent in embedded mode. */
  readonly redisServerChanges?: (() => number) | null;
  readonly lastRefresh: (list: string) => { outcome: RefreshOutcome | null; lastSuccess: number | null };
  /** Redis's answers per list (Redis mode); null or absent: not exported. */
  readonly confirms?: ConfirmStats | null;
  /** The audit trail's counters; null or absent: no audit trail. */
  readonly audit?: (() => AuditLogStats) | null;
}

/** Prometheus histogram buckets (seconds), a subset of the tally's finer bounds. */
const HISTOGRAM_BOUNDS_US = [50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000];

/**
 * A histogram whose buckets come from the tallies at scrape time: prom-client's observe() costs
 * ~0.36 µs per call (measured), a tally record a few comparisons.
 */
class TallyHistogram extends Histogram<string> {
  readonly #stats: CheckStats;

  constructor(stats: CheckStats, registry: Registry) {
    super({ name: 'callgate_check_duration_seconds', help: 'Server-side time from a check request decoded to its reply encoded (single checks).', buckets: HISTOGRAM_BOUNDS_US.map((us) => us / 1e6), registers: [registry] });
    this.#stats = stats;
  }

  // The registry's text output reads getForPromString() (not in the typings), JSON output get().
  async getForPromString(): ReturnType<Histogram<string>['get']> {
    return this.get();
  }

  override async get(): ReturnType<Histogram<string>['get']> {
    const total = this.#stats.latencyTotal();
    const values: { value: number; metricName: string; labels: Record<string, string | number> }[] = [];
    let cumulative = 0;
    let i = 0;
    for (const bound of HISTOGRAM_BOUNDS_US) {
      while (i < LATENCY_BOUNDS_US.length && (LATENCY_BOUNDS_US[i] as number) <= bound) cumulative += total.counts[i++] as number;
      values.push({ value: cumulative, metricName: 'callgate_check_duration_seconds_bucket', labels: { le: bound / 1e6 } });
    }
    values.push({ value: total.count, metricName: 'callgate_check_duration_seconds_bucket', labels: { le: '+Inf' } });
    values.push({ value: total.sumUs / 1e6, metricName: 'callgate_check_duration_seconds_sum', labels: {} });
    values.push({ value: total.count, metricName: 'callgate_check_duration_seconds_count', labels: {} });
    return { name: 'callgate_check_duration_seconds', help: 'Server-side time from a check request decoded to its reply encoded (single checks).', type: 'histogram', values, aggregator: 'sum' } as unknown as Awaited<ReturnType<Histogram<string>['get']>>;
  }
}

export function createMetrics(sources: MetricsSources): Registry {
  const registry = new Registry();
  // prom-client's standard names (process_*, nodejs_*), which stock Node.js dashboards read; our own metrics are callgate_*.
  collectDefaultMetrics({ register: registry });
  const reported = new Map<string, number>();

  new Counter({
    name: 'callgate_checks_total',
    help: 'Numbers checked, by verdict, reason and campaign (campaigns past the configured bound count as "other").',
    labelNames: ['verdict', 'reason', 'campaign'],
    registers: [registry],
    collect() {
      for (const [key, n] of sources.stats.totals()) {
        const delta = n - (reported.get(key) ?? 0);
        if (delta <= 0) continue;
        const k = parseTallyKey(key);
        if (k === null) continue;
        this.labels(k.verdict, k.reason, k.campaign).inc(delta);
        reported.set(key, n);
      }
    },
  });
  new TallyHistogram(sources.stats, registry);

  new Gauge({
    name: 'callgate_list_entries',
    help: 'Numbers in the generation each list serves (intraday additions not included).',
    labelNames: ['list', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources.registry.current.slots) if (s.state !== null) this.labels(s.spec.name, s.spec.kind).set(s.state.count);
    },
  });
  new Gauge({
    name: 'callgate_list_intraday_additions',
    help: 'Intraday additions on top of each list\'s generation.',
    labelNames: ['list'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources.registry.current.slots) this.labels(s.spec.name).set(s.intraday.size);
    },
  });
  new Gauge({
    name: 'callgate_list_generation_info',
    help: 'The generation each list serves (value 1).',
    labelNames: ['list', 'generation'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources.registry.current.slots) if (s.state !== null) this.labels(s.spec.name, s.state.generation).set(1);
    },
  });
  new Gauge({
    name: 'callgate_list_source_timestamp_seconds',
    help: 'The source date of each list\'s generation (its age counts from it).',
    labelNames: ['list'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources.registry.current.slots) if (s.state?.sourceDate) this.labels(s.spec.name).set(s.state.sourceDate.getTime() / 1000);
    },
  });
  new Gauge({
    name: 'callgate_list_stale_timestamp_seconds',
    help: 'When each list goes stale (checks then answer stale_list).',
    labelNames: ['list'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources.registry.current.slots) if (Number.isFinite(s.staleAt)) this.labels(s.spec.name).set(s.staleAt / 1000);
    },
  });
  new Gauge({
    name: 'callgate_list_last_refresh_success_timestamp_seconds',
    help: 'Last time a refresh of each list loaded a generation or found it unchanged.',
    labelNames: ['list'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources.registry.current.slots) {
        const t = sources.lastRefresh(s.spec.name).lastSuccess;
        if (t !== null) this.labels(s.spec.name).set(t / 1000);
      }
    },
  });
  new Gauge({
    name: 'callgate_list_last_refresh_outcome',
    help: 'The last refresh outcome of each list (value 1 on the outcome label).',
    labelNames: ['list', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of sources.registry.current.slots) {
        const o = sources.lastRefresh(s.spec.name).outcome;
        if (o !== null) this.labels(s.spec.name, o.status).set(1);
      }
    },
  });
  new Gauge({
    name: 'callgate_ready',
    help: '1 when every configured list is loaded.',
    registers: [registry],
    collect() {
      this.set(sources.registry.current.ready ? 1 : 0);
    },
  });
  if (sources.redisUp !== null) {
    const up = sources.redisUp;
    new Gauge({
      name: 'callgate_redis_up',
      help: '1 while the confirmation connection to Redis is ready.',
      registers: [registry],
      collect() {
        this.set(up() ? 1 : 0);
      },
    });
  }
  if (sources.redisServerChanges != null) {
    const changes = sources.redisServerChanges;
    let counted = 0;
    new Counter({
      name: 'callgate_redis_server_changes_total',
      help: 'Times the Redis server answering changed (INFO run_id): a Sentinel fail-over or a restart.',
      registers: [registry],
      collect() {
        const n = changes();
        if (n > counted) this.inc(n - counted);
        counted = n;
      },
    });
  }
  new Gauge({
    name: 'callgate_connections_open',
    help: 'Open check WebSocket connections.',
    registers: [registry],
    collect() {
      this.set(sources.connections());
    },
  });
  new Gauge({
    name: 'callgate_alerts_active',
    help: 'Active alerts by kind and severity.',
    labelNames: ['kind', 'severity'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const a of sources.alerts.active()) counts.set(`${a.kind}\t${a.severity}`, (counts.get(`${a.kind}\t${a.severity}`) ?? 0) + 1);
      for (const [k, n] of counts) {
        const [kind, severity] = k.split('\t') as [string, string];
        this.labels(kind, severity).set(n);
      }
    },
  });
  if (sources.confirms != null) {
    const confirms = sources.confirms;
    const done = new Map<string, number>();
    new Counter({
      name: 'callgate_confirmations_total',
      help: 'Bloom hits Redis was asked to confirm, by list and answer (member, absent, unconfirmed; allow-lists also revoked, expired).',
      labelNames: ['list', 'answer'],
      registers: [registry],
      collect() {
        for (const [list, byAnswer] of confirms.totals()) {
          for (const [answer, n] of byAnswer) {
            const key = `${list}\t${answer}`;
            const delta = n - (done.get(key) ?? 0);
            if (delta <= 0) continue;
            this.labels(list, answer).inc(delta);
            done.set(key, n);
          }
        }
      },
    });
  }
  if (sources.audit != null) {
    const audit = sources.audit;
    let written = 0;
    let lost = 0;
    new Counter({
      name: 'callgate_audit_records_written_total',
      help: 'Audit records handed to the file system.',
      registers: [registry],
      collect() {
        const n = audit().written;
        if (n > written) this.inc(n - written);
        written = n;
      },
    });
    new Counter({
      name: 'callgate_audit_records_lost_total',
      help: 'Audit records lost: refused because the buffer was at its bound while the disk failed or lagged, or still unwritten at shutdown.',
      registers: [registry],
      collect() {
        const n = audit().dropped;
        if (n > lost) this.inc(n - lost);
        lost = n;
      },
    });
    new Gauge({
      name: 'callgate_audit_pending_bytes',
      help: 'Audit records waiting for the disk (UTF-16 code units), bounded by auditMaxPendingBytes.',
      registers: [registry],
      collect() {
        this.set(audit().pendingBytes);
      },
    });
    new Gauge({
      name: 'callgate_audit_writable',
      help: '1 while the audit trail is being written, 0 from a failed write until the next successful one.',
      registers: [registry],
      collect() {
        this.set(audit().failing ? 0 : 1);
      },
    });
  }
  return registry;
}
