/**
 * GateMode in Redis mode (backends/gate-mode.ts): the rules check's facts from the decide script
 * (rules/facts-redis.ts), outcomes recorded in Redis, the fleet's figures (supervision/fleet-stats.ts),
 * the scripts warmed before /readyz says ready, Redis's reachability and clock watched.
 * It sees only the parts of the store it uses (RedisModeParts, structural); main.ts passes the connected
 * RedisStore, whose parts have these shapes.
 */
import type { GateMode } from './gate-mode.js';
import type { OutcomeRecorder } from './list-backend.js';
import type { Logger } from '../core/logger.js';
import { RedisRulesFacts, type DecideScript } from '../rules/facts-redis.js';
import { startClockDriftMonitor } from '../supervision/clock-drift.js';
import { FleetStats, type FleetStatsStore, type LiveSidecars } from '../supervision/fleet-stats.js';
import { ProcessFigures } from '../supervision/stats-figures.js';

export interface RedisModeParts {
  /** The check scripts (redis/confirm.ts). */
  readonly confirmer: DecideScript & {
    /** Loads the scripts and runs one check script; false when Redis did not answer within the budget. */
    warmUp(): Promise<boolean>;
  };
  /** Consumer history (redis/consumer-history.ts): refusals and attempts. */
  readonly history: OutcomeRecorder;
  /** Fleet figures (redis/stats-store.ts). */
  readonly stats: FleetStatsStore;
  /** Heartbeats (redis/fleet.ts). */
  readonly fleet: LiveSidecars;
  /** The server watch (redis/risk.ts): how many times the server changed. */
  readonly risks: { server(): { readonly changes: number } };
  readonly connection: {
    isUp(): boolean;
    /** Redis's clock (TIME), ms. */
    now(): Promise<number>;
  };
}

export function redisMode(store: RedisModeParts): GateMode {
  let warm = false;
  return {
    rulesFacts: ({ confirms, local }) => new RedisRulesFacts({ script: store.confirmer, confirms, local }),
    outcomes: store.history,
    statsFigures: ({ stats, counted, instanceId, logger, now }) =>
      counted ? new FleetStats({ store: store.stats, sidecars: store.fleet, stats, instanceId, logger, now }) : new ProcessFigures({ stats, instanceId, mode: 'redis' }),
    isWarm: () => warm,
    warmUp: async (stopped, logger) => {
      await warmUp(store, stopped, logger);
      warm = true;
    },
    redisUp: () => store.connection.isUp(),
    redisServerChanges: () => store.risks.server().changes,
    watchClock: ({ alerts, thresholdMs, logger, now }) => startClockDriftMonitor({ remoteNow: () => store.connection.now(), alerts, thresholdMs, logger, now }),
  };
}

/**
 * Loads the scripts and runs one check script before /readyz says ready. Retried until Redis answers
 * (a stop ends it): the connection is up by then, so this takes one round trip unless the machine is busy.
 */
async function warmUp(store: RedisModeParts, stopped: () => boolean, logger: Logger): Promise<void> {
  for (let attempt = 1; !stopped(); attempt++) {
    if (await store.confirmer.warmUp()) return;
    logger.warn({ attempt }, 'warming up Redis scripts: no answer within the budget; retrying');
    await new Promise((r) => setTimeout(r, Math.min(100 * attempt, 1000)));
  }
}
