/**
 * GateMode in Redis mode (backends/gate-mode.ts): the rules check's facts from the decide script
 * (rules/facts-redis.ts), outcomes recorded in Redis, the fleet's figures (supervision/fleet-stats.ts),
 * the scripts warmed before /readyz says ready, Redis's reachability and clock watched.
 * It sees the store through RedisModeStore (the methods it calls), not the RedisStore class, so that it does
 * not depend on how redis/ is cut; main.ts passes the connected store.
 */
import type { GateMode } from './gate-mode.js';
import type { OutcomeRecorder } from './list-backend.js';
import type { Logger } from '../core/logger.js';
import { RedisRulesFacts, type DecideScript } from '../rules/facts-redis.js';
import { startClockDriftMonitor } from '../supervision/clock-drift.js';
import { FleetStats, type FleetStatsStore } from '../supervision/fleet-stats.js';
import { ProcessFigures } from '../supervision/stats-figures.js';

export interface RedisModeStore extends DecideScript, OutcomeRecorder, FleetStatsStore {
  /** Loads the scripts and runs one check script; false when Redis did not answer within the budget. */
  warmUp(): Promise<boolean>;
  isUp(): boolean;
  /** Redis's clock (TIME), ms. */
  now(): Promise<number>;
}

export function redisMode(store: RedisModeStore): GateMode {
  let warm = false;
  return {
    rulesFacts: ({ confirms, local }) => new RedisRulesFacts({ script: store, confirms, local }),
    outcomes: store,
    statsFigures: ({ stats, counted, instanceId, logger, now }) =>
      counted ? new FleetStats({ store, stats, instanceId, logger, now }) : new ProcessFigures({ stats, instanceId, mode: 'redis' }),
    isWarm: () => warm,
    warmUp: async (stopped, logger) => {
      await warmUp(store, stopped, logger);
      warm = true;
    },
    redisUp: () => store.isUp(),
    watchClock: ({ alerts, thresholdMs, logger, now }) => startClockDriftMonitor({ remoteNow: () => store.now(), alerts, thresholdMs, logger, now }),
  };
}

/**
 * Loads the scripts and runs one check script before /readyz says ready. Retried until Redis answers
 * (a stop ends it): the connection is up by then, so this takes one round trip unless the machine is busy.
 */
async function warmUp(store: RedisModeStore, stopped: () => boolean, logger: Logger): Promise<void> {
  for (let attempt = 1; !stopped(); attempt++) {
    if (await store.warmUp()) return;
    logger.warn({ attempt }, 'warming up Redis scripts: no answer within the budget; retrying');
    await new Promise((r) => setTimeout(r, Math.min(100 * attempt, 1000)));
  }
}
