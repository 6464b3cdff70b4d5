/**
 * Redis mode: the exact members live once in Redis for the whole fleet; each sidecar holds only the
 * Bloom filters and each list's intraday additions. createRedisBackend assembles its parts, each in a
 * file of its own, around one shared context (redis-context.ts) and runs the start-up sequence:
 *
 * - Start-up (redis-startup.ts): a list whose current generation in Redis is readable by this build is
 *   taken over at once; a configured file that differs and is newer is then loaded; an older file is never
 *   loaded over a newer generation. With no list configured, the sidecar serves the lists current in Redis.
 * - Refresh and switches (generation-switch.ts): one sidecar at a time per list (a lock with expiry and
 *   renewal) writes a new generation and switches the pointer; every other sidecar learns of it by pub/sub
 *   and, in case a message is lost or a connection dropped, by polling the pointer (fleet-sync.ts).
 * - Intraday changes (intraday-sync.ts) go to Redis first (a sorted set per list + one stream); every
 *   sidecar follows the stream from its last entry, replaying after a reconnect.
 * - Heartbeats say which generations this sidecar reads; old generations are collected only when no
 *   live sidecar reads them (fleet-sync.ts).
 * - A server change (server-watch.ts: a fail-over, a restart) alerts and re-checks the fleet epoch at every
 *   reconnection; the role and eviction checks that block while unsafe are redis/risk.ts's.
 * - Redis losing its data (wipe-recovery.ts): every sidecar keeps a durable copy of the change stream and
 *   of the refusals and attempts it recorded (backends/fleet-copy.ts), which counts as listed on its own; a
 *   wipe raises a critical alert, re-creates the lists, re-publishes the copy, and only then answers rules
 *   checks again.
 * - Fail-over (replication-retry.ts): the writes that matter wait for a replica (redis/durability.ts); those no
 *   replica was seen to hold are re-published until one does, so a promoted replica that lacked them gets them.
 */
import type { Candidate, RemoteConfirmer } from '../check/deny-lists.js';
import type { Membership } from '../check/verdict.js';
import { NewestChanges, type ChangeOutcome, type ListBackend } from './list-backend.js';
import { DEFAULT_ATTEMPT_WINDOW_MS } from '../redis/consumer-history.js';
import type { RedisStore } from '../redis/store.js';
import { FleetCopy } from './fleet-copy.js';
import { createRedisBackendContext, type RedisBackendOptions } from './redis-context.js';
import { createGenerationSwitch } from './generation-switch.js';
import { createIntradaySync } from './intraday-sync.js';
import { createWipeRecovery } from './wipe-recovery.js';
import { createRedisStartup } from './redis-startup.js';
import { createFleetSync } from './fleet-sync.js';
import { watchServer } from './server-watch.js';
import { createReplicationRetry } from './replication-retry.js';

export function redisConfirmer(store: RedisStore): RemoteConfirmer {
  return {
    confirm(candidates: readonly Candidate[]): Promise<Membership[]> {
      const items = candidates.map((c) => {
        const m = c.state.members;
        // Only Redis-held generations reach here; anything else reads as a missing marker (block).
        return m.where === 'redis'
          ? { list: c.state.spec.name, generation: m.generation, buckets: m.buckets, key: c.key }
          : { list: c.state.spec.name, generation: 'none', buckets: 1, key: c.key };
      });
      return store.confirmer.confirm(items);
    },
  };
}

export function createRedisBackend(options: RedisBackendOptions): ListBackend {
  const ctx = createRedisBackendContext(options);
  const { registry, store, logger, errors, stoppers, timers } = ctx;
  // The parts call one another late (a switch may start a recovery, which switches again): each gets
  // closures over the others, all built before start() runs any of them.
  const intraday = createIntradaySync(ctx);
  const generations = createGenerationSwitch(ctx, { seedIntraday: (list) => intraday.seedIntraday(list), checkEpoch: () => wipe.checkEpoch() });
  const wipe = createWipeRecovery(ctx, { syncList: (name) => generations.syncList(name), seedIntraday: intraday.seedIntraday, ensureSourceless: generations.ensureSourceless });
  const startList = createRedisStartup(ctx, generations);
  const fleet = createFleetSync(ctx, { syncList: (name) => generations.syncList(name), checkEpoch: wipe.checkEpoch });
  const unreplicated = createReplicationRetry(ctx);
  const { refresher, applyRisk } = generations;
  const { overlayOf, followIntraday } = intraday;

  return {
    mode: 'redis',
    remote: redisConfirmer(store),
    local: {
      refusal: (key, now) => ctx.copy?.refusal(key, now) ?? null,
      attempts: (key, since) => ctx.copy?.attempts(key, since) ?? { count: 0, oldest: null },
    },
    refresher,
    async start() {
      const stopRisk = store.risks.watchRisk(applyRisk);
      stoppers.push(async () => stopRisk());
      applyRisk(store.risks.risk());
      ctx.clockOffsetMs = (await store.connection.now()) - Date.now();
      ctx.discoverAll = registry.current.slots.length === 0;
      const opened = await FleetCopy.open(options.journalPath ?? null, {
        prefix: store.prefix,
        keepAttemptsMs: options.keepAttemptsMs ?? DEFAULT_ATTEMPT_WINDOW_MS,
        now: Date.now() + ctx.clockOffsetMs,
        onError: (err) => logger.error({ err }, 'writing to this sidecar\'s copy failed'),
      });
      const held = opened.copy;
      ctx.copy = held;
      if (options.journalPath) logger.info({ path: options.journalPath, skipped: opened.skipped, epoch: held.epoch }, 'copy of the fleet\'s changes opened');
      store.confirmer.expectEpoch(held.epoch);
      store.observeRuleWrites({
        refusal: (key, at, until) => held.refusalRecorded(key, at, until),
        attempt: (key, at, member) => held.attemptRecorded(key, at, member),
        unreplicated: (write, mark) => unreplicated.ruleWriteUnreplicated(write, mark),
      });
      if (store.durability.enabled) {
        // At each poll, and at once when a connection is ready again (a fail-over reached a new master).
        timers.push(setInterval(() => void unreplicated.retry(), ctx.timings.pollMs));
        store.connection.onReady(() => void unreplicated.retry());
      }
      // A copy that saw an epoch meeting none (or another): Redis lost its data since this sidecar last ran.
      const epochAtStart = await store.epoch.readEpoch();
      const wipedBeforeStart = held.epoch !== null && epochAtStart !== held.epoch;
      if (ctx.closed) return;
      const unsubscribe = await fleet.subscribeSwitches();
      if (ctx.closed) {
        await unsubscribe().catch(() => undefined);
        return;
      }
      if (ctx.discoverAll) {
        await fleet.discover().catch((err: unknown) => logger.error({ err }, 'discovering the lists in Redis failed; the poll retries'));
      } else {
        for (const slot of registry.current.slots) {
          try {
            await startList(slot.spec);
          } catch (err) {
            errors.set(slot.spec.name, err instanceof Error ? err.message : String(err));
            logger.error({ list: slot.spec.name, err }, 'list load failed; checks answer not_ready until it loads');
          }
        }
      }
      if (ctx.closed) return;
      await followIntraday();
      if (wipedBeforeStart) {
        void wipe.recover(epochAtStart === null ? 'the fleet epoch is gone (found at start)' : 'the fleet epoch changed (found at start)').catch((err: unknown) =>
          logger.error({ err }, 'recovery after a wipe failed; retried at the next poll'),
        );
      } else {
        await wipe.checkEpoch();
      }
      // After the epoch is known: a reconnection compares with it.
      const stopServerWatch = watchServer(ctx, () => wipe.checkEpoch());
      stoppers.push(async () => stopServerWatch());
      fleet.startTimers();
    },
    async change(op, list, keys, who): Promise<ChangeOutcome> {
      const slot = registry.slot(list);
      if (slot === undefined) return { ok: false, code: 'unknown_list', message: `no list named ${list}` };
      // Redis first (durable, and the stream carries it to every sidecar); then here at once.
      const revocable = slot.spec.kind === 'allow';
      const mark = store.durability.mark();
      const id = op === 'add' ? await store.intraday.addIntraday(list, keys, { who, revocable }) : await store.intraday.removeIntraday(list, keys, { who, revocable });
      // Only once the new change is in Redis: had its write failed, a pending opt-out must still be re-published.
      unreplicated.superseded(list, keys);
      const at = Date.now() + ctx.clockOffsetMs;
      overlayOf(list);
      slot.intraday.apply(op, keys, at);
      // This sidecar's copy too, before the acknowledgement: Redis may lose the change before others read it.
      await ctx.copy?.change(op, list, keys, who, at);
      // Acknowledged once a replica holds it; otherwise the caller is told, and it is re-published until one does.
      const replicated = await store.durability.replicated(mark);
      if (!replicated) {
        unreplicated.changeUnreplicated(op, list, keys, who, revocable, mark);
        logger.warn({ list, op, count: keys.length, replicas: store.durability.replicas }, 'intraday change not seen on a replica in time: kept in this sidecar\'s copy and re-published until one holds it');
      }
      return { ok: true, list, op, count: keys.length, at: new Date(at).toISOString(), id, ...(replicated ? {} : { replicated: false }) };
    },
    async changesOf(key) {
      const newest = new NewestChanges();
      for (const c of await store.changes.changesOf(key)) newest.offer({ list: c.list, op: c.op, at: Date.parse(c.at), who: c.who });
      return newest.all;
    },
    lastError: (list) => errors.get(list) ?? null,
    describe: () => ({ redis: { up: store.connection.isUp(), ...(store.durability.enabled ? { unreplicated: unreplicated.pending() } : {}) } }),
    async close() {
      ctx.closed = true;
      for (const t of timers) clearInterval(t);
      for (const stop of stoppers) await stop().catch(() => undefined);
      store.observeRuleWrites(null);
      await store.close();
      await ctx.copy?.close();
    },
  };
}
