/**
 * Redis losing its data (a wipe), seen from one sidecar: the fleet epoch gone or changed (checked at start
 * and at every poll), or a generation vanishing under it. It raises a critical alert, re-creates the lists
 * this sidecar is configured with (file sources reloaded, source-less ones from its copy, never
 * empty-and-forgotten), re-publishes its copy of opt-outs, revocations, refusals and attempts, waits for the
 * other sidecars to do the same, and only then adopts the new epoch, so rules checks answer again.
 */
import { isUrlSource } from '../refresh/source.js';
import type { GenerationMarker } from '../redis/codecs.js';
import type { ListSpec } from '../config/list-spec.js';
import { loadListIntoRedis } from './redis-load.js';
import { listNames, type RedisBackendContext } from './redis-context.js';

export interface WipeRecovery {
  /** After a wipe: re-create, re-publish, hold, adopt the new epoch. One at a time. */
  recover(reason: string): Promise<void>;
  /** Compares Redis's epoch with the one this sidecar knows; a loss or a change is a wipe. */
  checkEpoch(): Promise<void>;
}

export interface WipeRecoveryDeps {
  syncList(name: string): Promise<void>;
  seedIntraday(list: string, force?: boolean): Promise<void>;
  ensureSourceless(spec: ListSpec): Promise<GenerationMarker>;
}

export function createWipeRecovery(ctx: RedisBackendContext, deps: WipeRecoveryDeps): WipeRecovery {
  const { registry, store, alerts, logger, timings } = ctx;
  const { syncList, seedIntraday, ensureSourceless } = deps;
  let recovering: Promise<void> | null = null;

  function raiseWipe(reason: string, details: Record<string, unknown>): void {
    alerts.raise({
      id: 'redis_wiped',
      kind: 'redis_wiped',
      severity: 'critical',
      message: `Redis lost its data (${reason}). This sidecar re-creates its lists and re-publishes its copy of opt-outs, revocations, refusals and attempts; opt-outs known only to sidecars that are down come back when they start. See the README, "Redis losing its data".`,
      details,
    });
    logger.error({ reason, ...details }, 'Redis lost its data: recovering from this sidecar\'s copy');
  }

  /**
   * After a wipe: rules checks stay blocked (the store expects the old epoch) while this sidecar re-creates its
   * configured lists (file sources reloaded, source-less ones from its copy), re-publishes its copy, and waits
   * wipeHoldMs for the other sidecars to re-publish theirs; then it adopts the fleet's new epoch.
   */
  function recover(reason: string): Promise<void> {
    recovering ??= (async () => {
      raiseWipe(reason, { detectedAt: new Date().toISOString() });
      if (!ctx.discoverAll) {
        for (const slot of registry.current.slots) {
          if (ctx.closed) return;
          const spec = slot.spec;
          if ((await store.generations.readCurrent(spec.name)) !== null) continue;
          try {
            if (spec.source === null) await ensureSourceless(spec);
            else if (!isUrlSource(spec.source)) await loadListIntoRedis(store, spec, { lockTtlMs: timings.lockTtlMs });
          } catch (err) {
            // Another sidecar may be re-loading it (its lock): its generation reaches us through the sync.
            logger.warn({ list: spec.name, err }, 're-creating a list after a wipe failed; the next poll retries');
          }
        }
      }
      for (const name of listNames(ctx)) {
        await syncList(name);
        await seedIntraday(name, true);
      }
      const now = await store.connection.now();
      for (const [key, r] of ctx.copy?.runningRefusals(now) ?? []) await store.history.restoreRefusal(key, r.at, r.until);
      for (const [key, attempts] of ctx.copy?.recentAttempts(now) ?? []) await store.history.restoreAttempts(key, attempts);
      await pause(timings.wipeHoldMs);
      if (ctx.closed) return;
      await adoptEpoch(await store.epoch.ensureEpoch());
      logger.warn({ reason }, 'recovered from the wipe: lists re-created and this sidecar\'s copy re-published');
    })().finally(() => {
      recovering = null;
    });
    return recovering;
  }

  async function adoptEpoch(epoch: string): Promise<void> {
    await ctx.copy?.setEpoch(epoch, Date.now());
    store.confirmer.expectEpoch(epoch);
  }

  /** Compares Redis's epoch with the one this sidecar knows; a loss or a change is a wipe. */
  async function checkEpoch(): Promise<void> {
    if (recovering !== null) return;
    const seen = await store.epoch.readEpoch();
    const known = ctx.copy?.epoch ?? null;
    if (known === null) {
      // Nothing known yet: take the fleet's, or write it if lists exist (a fleet from before epochs).
      if (seen !== null) await adoptEpoch(seen);
      else if (registry.current.slots.some((s) => s.state !== null)) await adoptEpoch(await store.epoch.ensureEpoch());
      return;
    }
    if (seen === known) return;
    await recover(seen === null ? 'the fleet epoch is gone' : 'the fleet epoch changed');
  }

  return { recover, checkEpoch };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
