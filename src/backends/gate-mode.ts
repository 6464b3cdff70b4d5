/**
 * GateMode: what differs between embedded and Redis mode beyond the lists themselves (backends/list-backend.ts),
 * as ports, so that the service and everything it wires never ask which mode they run in (issue 13: no
 * `RedisStore | null`): the rules check's facts, where outcomes are kept, where the stats view's figures come
 * from, and the few things only a shared store has — scripts to warm before /readyz, reachability to watch, a
 * clock to compare with. main.ts (the composition root) builds one: embeddedMode() below, or
 * backends/redis-mode.ts redisMode(store).
 */
import { EmbeddedOutcomes, type OutcomeRecorder } from './list-backend.js';
import type { LocalRuleFacts } from './fleet-copy.js';
import type { AlertRegistry } from '../supervision/alerts.js';
import type { CheckStats } from '../supervision/check-stats.js';
import type { ConfirmStats } from '../supervision/confirm-stats.js';
import type { Logger } from '../core/logger.js';
import { MemoryRulesFacts, type RulesFacts } from '../rules/facts.js';
import { ProcessFigures, type StatsFigures } from '../supervision/stats-figures.js';

/** What the service builds before the mode's ports: the process's own counters and copy. */
export interface RulesFactsDeps {
  /** Redis's answers per list, for the unconfirmed_rate alert; null: not counted. */
  readonly confirms: ConfirmStats | null;
  /** Refusals and attempts this sidecar recorded (backends/fleet-copy.ts), Redis mode; null: none. */
  readonly local: LocalRuleFacts | null;
}

export interface StatsFiguresDeps {
  readonly stats: CheckStats;
  /** False with --no-stats: nothing is counted, so nothing is shared either. */
  readonly counted: boolean;
  readonly instanceId: string;
  readonly logger: Logger;
  readonly now: () => number;
}

export interface ClockWatchDeps {
  readonly alerts: AlertRegistry;
  readonly thresholdMs: number;
  readonly logger: Logger;
  readonly now: () => number;
}

export interface GateMode {
  rulesFacts(deps: RulesFactsDeps): RulesFacts;
  readonly outcomes: OutcomeRecorder;
  statsFigures(deps: StatsFiguresDeps): StatsFigures;
  /** False until warmUp() finished: /readyz says `warming_up` meanwhile. */
  isWarm(): boolean;
  /** Gets checks ready to be answered (Redis: load the scripts, run one check script), retried until `stopped()`. */
  warmUp(stopped: () => boolean, logger: Logger): Promise<void>;
  /**
   * Whether the shared store answers, for the redis_up gauge and the redis_unreachable alert (supervision/metrics.ts,
   * stats-service.ts take null as "no such thing to watch"); null in embedded mode, where there is no Redis at all.
   */
  readonly redisUp: (() => boolean) | null;
  /** Times the Redis server changed (a fail-over, a restart), for callgate_redis_server_changes_total; null in embedded mode. */
  readonly redisServerChanges: (() => number) | null;
  /** Starts the clock_drift alert against the shared store's clock (supervision/clock-drift.ts). */
  watchClock(deps: ClockWatchDeps): { stop(): void };
}

/** Embedded mode: lists in memory, no per-consumer state, no other clock than this process's, nothing to warm. */
export function embeddedMode(): GateMode {
  return {
    rulesFacts: () => new MemoryRulesFacts(),
    outcomes: new EmbeddedOutcomes(),
    statsFigures: ({ stats, instanceId }) => new ProcessFigures({ stats, instanceId, mode: 'embedded' }),
    isWarm: () => true,
    warmUp: () => Promise.resolve(),
    redisUp: null,
    redisServerChanges: null,
    watchClock: () => ({ stop: () => undefined }),
  };
}
