/**
 * Redis mode's standing work, once a sidecar has started: switch notices (pub/sub) and, in case a message is
 * lost or a connection dropped, polling the current pointers (with the epoch check and the copy's
 * compaction); heartbeats naming the generations this sidecar reads; collecting old generations no live
 * sidecar reads; and, with no list configured, discovering every list of Redis's registry. Each timer skips a
 * beat while its previous run is still going, and logs rather than throws.
 */
import { isListName } from '../redis/keys.js';
import { listNames, type RedisBackendContext } from './redis-context.js';

export interface FleetSync {
  /** Subscribes to switch notices; the returned stop is also pushed to the context's stoppers. */
  subscribeSwitches(): Promise<() => Promise<void>>;
  /** Discovery mode: switches to every list in Redis's registry, blocking on names it cannot read. */
  discover(): Promise<void>;
  /** Starts the poll, heartbeat and GC timers (none once closed). */
  startTimers(): void;
}

export interface FleetSyncDeps {
  syncList(name: string): Promise<void>;
  checkEpoch(): Promise<void>;
}

export function createFleetSync(ctx: RedisBackendContext, deps: FleetSyncDeps): FleetSync {
  const { registry, store, alerts, logger, errors, timings, timers, stoppers, options } = ctx;
  const { syncList, checkEpoch } = deps;

  function every(ms: number, what: string, fn: () => Promise<void>): void {
    if (ctx.closed) return;
    let busy = false;
    const t = setInterval(() => {
      if (busy) return;
      busy = true;
      fn()
        .catch((err: unknown) => logger.warn({ err }, `${what} failed`))
        .finally(() => {
          busy = false;
        });
    }, ms);
    t.unref();
    timers.push(t);
  }

  /** Names of Redis's list registry that this sidecar could not read (each holds the whole gate). */
  const unreadableNames = new Set<string>();

  /**
   * Discovery mode: switches to every list in Redis's registry. A name that cannot be read (an invalid
   * name, a broken marker, an unreadable generation) may be a real list whose numbers would then be
   * allowed: it blocks every check (a registry hold), alerts, and is tried again at each poll.
   */
  async function discover(): Promise<void> {
    const bad = new Map<string, string>();
    for (const name of await store.generations.listNames()) {
      if (!isListName(name)) {
        bad.set(name, 'not a valid list name');
        continue;
      }
      try {
        await syncList(name);
        if (registry.slot(name) === undefined && errors.has(name)) bad.set(name, errors.get(name) as string);
      } catch (err) {
        bad.set(name, err instanceof Error ? err.message : String(err));
      }
    }
    for (const name of [...unreadableNames]) {
      if (bad.has(name)) continue;
      unreadableNames.delete(name);
      registry.release(`list_registry:${name}`);
      alerts.clear(`list_registry:${name}`);
      logger.info({ name }, 'list registry entry readable again (or gone)');
    }
    for (const [name, why] of bad) {
      const message = `Redis's list registry names ${JSON.stringify(name)}, which this sidecar cannot read (${why}): every check is blocked (not_ready), since it may be a real list; fix or remove it`;
      registry.hold(`list_registry:${name}`, message);
      if (!unreadableNames.has(name)) logger.error({ name, reason: why }, 'unreadable entry in the list registry; blocking every check');
      unreadableNames.add(name);
      alerts.raise({ id: `list_registry:${name}`, kind: 'list_registry', severity: 'critical', message, details: { reason: why } });
    }
  }

  async function subscribeSwitches(): Promise<() => Promise<void>> {
    const unsubscribe = await store.fleet.subscribe((event) => {
      // Only lists this sidecar serves (all of Redis's when none is configured).
      if (registry.slot(event.list) === undefined && registry.current.slots.length > 0 && !ctx.discoverAll) return;
      syncList(event.list).catch((err: unknown) => logger.warn({ list: event.list, err }, 'switch after notification failed; the poll retries'));
    });
    stoppers.push(unsubscribe);
    return unsubscribe;
  }

  function startTimers(): void {
    every(timings.pollMs, 'polling current generations', async () => {
      await checkEpoch();
      if (ctx.discoverAll) await discover();
      else for (const name of listNames(ctx)) await syncList(name);
      await ctx.copy?.maybeCompact(Date.now() + ctx.clockOffsetMs);
    });
    every(timings.heartbeatMs, 'heartbeat', async () => {
      const inUse = registry.current.slots.flatMap((s) => (s.state === null ? [] : [{ list: s.spec.name, generation: s.state.generation }]));
      await store.fleet.heartbeat(options.instanceId, inUse, timings.heartbeatMs * 3);
    });
    every(timings.gcEveryMs, 'collecting old generations', async () => {
      for (const name of listNames(ctx)) {
        const { deleted } = await store.generations.collectGarbage(name, { graceMs: timings.gcGraceMs });
        if (deleted.length > 0) logger.info({ list: name, deleted }, 'old generations collected');
      }
    });
  }

  return { subscribeSwitches, discover, startTimers };
}
