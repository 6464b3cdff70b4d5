/**
 * What a sidecar does when Redis's server changes under it (a Sentinel fail-over, a restart) or is found
 * unprotected, beyond the risks that block checks (redis/risk.ts, applied by generation-switch.ts): the
 * redis_failover alert (raised when INFO run_id changes, cleared FAILOVER_ALERT_MS later), the
 * redis_persistence warning (neither AOF nor a replica), and the fleet epoch compared at every reconnection,
 * not only at each poll (a promoted replica may have lost the data: wipe-recovery.ts).
 */
import type { RedisBackendContext } from './redis-context.js';
import type { ServerFacts } from '../redis/risk.js';

/** How long the redis_failover alert stays up after the last server change: long enough to be seen on a dashboard. */
export const FAILOVER_ALERT_MS = 10 * 60_000;

/** Starts watching; returns the function that stops it (timers, listeners). */
export function watchServer(ctx: RedisBackendContext, checkEpoch: () => Promise<void>): () => void {
  const { store, alerts, logger } = ctx;
  let clearTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  const apply = (facts: ServerFacts): void => {
    if (facts.persistence === null) alerts.clear('redis_persistence');
    else alerts.raise({ id: 'redis_persistence', kind: 'redis_persistence', severity: 'warning', message: `${facts.persistence}. Run Redis with appendonly yes and a replica under Sentinel (docs/redis-topology.md).` });
    if (facts.changedAt === null) return;
    alerts.raise({
      id: 'redis_failover',
      kind: 'redis_failover',
      severity: 'warning',
      message: `Redis changed server (a fail-over or a restart), ${facts.changes} time(s) since this sidecar started. Checks that needed Redis answered block / unconfirmed during the switch; writes the old server acknowledged but had not replicated may be lost (docs/redis-topology.md).`,
      details: { changes: facts.changes, at: new Date(facts.changedAt).toISOString(), runId: facts.runId.slice(0, 12) },
    });
    clearTimeout(clearTimer);
    clearTimer = setTimeout(() => alerts.clear('redis_failover'), FAILOVER_ALERT_MS);
    clearTimer.unref();
  };

  let last = store.risks.server();
  const stopListening = store.risks.watchServer((facts) => {
    if (facts.changes !== last.changes) logger.warn({ changes: facts.changes, runId: facts.runId.slice(0, 12) }, 'Redis server changed (fail-over or restart)');
    last = facts;
    apply(facts);
  });
  apply(last);
  store.connection.onReady(() => {
    if (stopped || ctx.closed) return;
    checkEpoch().catch((err: unknown) => logger.warn({ err }, 'checking the fleet epoch after a reconnection failed; the poll retries'));
  });
  return () => {
    stopped = true;
    stopListening();
    clearTimeout(clearTimer);
  };
}
