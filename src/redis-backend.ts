/**
 * Redis mode: the exact members live once in Redis for the whole fleet; each sidecar holds only
 * the Bloom filters. At start-up each configured list is taken over when the generation current in
 * Redis came from the same file (same fingerprint) and is readable by this build (normaliser version
 * and filter hash); otherwise the file is loaded as `callgate load` does. With no list configured,
 * the sidecar serves the lists current in Redis.
 */
import type { Candidate, Membership, RemoteConfirmer } from './check.js';
import { fingerprintFile } from './file-fingerprint.js';
import type { ListBackend } from './list-backend.js';
import type { ListSpec } from './list-spec.js';
import type { ListRegistry } from './list-state.js';
import type { Logger } from './logger.js';
import { incompatibility, loadListIntoRedis, takeOver } from './redis-load.js';
import type { RedisStore } from './redis-store.js';

export function redisConfirmer(store: RedisStore): RemoteConfirmer {
  return {
    confirm(candidates: readonly Candidate[]): Promise<Membership[]> {
      const items = candidates.map((c) => {
        const m = c.state.members;
        // Only Redis-held generations reach here; anything else is answered as unknown (block).
        return m.where === 'redis'
          ? { list: c.state.spec.name, generation: m.generation, buckets: m.buckets, key: c.key }
          : { list: c.state.spec.name, generation: 'none', buckets: 1, key: c.key };
      });
      return store.confirm(items);
    },
  };
}

export function createRedisBackend(registry: ListRegistry, store: RedisStore, falsePositiveRate: number, logger: Logger): ListBackend {
  const errors = new Map<string, string>();

  async function startList(spec: ListSpec): Promise<void> {
    const started = performance.now();
    const current = await store.readCurrent(spec.name);
    if (spec.source !== null && current !== null) {
      const why = incompatibility(current);
      const fingerprint = await fingerprintFile(spec.source);
      if (why === null && current.fingerprint === fingerprint) {
        const state = await takeOver(store, spec, current);
        if (state !== null) {
          registry.install(state);
          logger.info({ list: spec.name, generation: current.generation, count: current.count, ms: Math.round(performance.now() - started) }, 'list taken over from Redis');
          return;
        }
      }
      logger.info({ list: spec.name, generation: current.generation, reason: why ?? 'source file changed' }, 'current generation not taken over; loading the file');
    }
    if (spec.source !== null) {
      const { state, report } = await loadListIntoRedis(store, spec);
      registry.install(state);
      logger.info({ ...report }, 'list loaded into Redis');
      return;
    }
    // A list configured without a source lives only in Redis: serve its current generation.
    if (current === null) throw new Error(`list ${spec.name} has no source and no generation current in Redis`);
    const why = incompatibility(current);
    if (why !== null) throw new Error(`generation ${current.generation} is unreadable by this build: ${why}`);
    const state = await takeOver(store, spec, current);
    if (state === null) throw new Error(`generation ${current.generation} has no stored filter`);
    registry.install(state);
    logger.info({ list: spec.name, generation: current.generation, count: current.count }, 'list taken over from Redis');
  }

  async function discover(): Promise<void> {
    for (const marker of await store.currentLists()) {
      const spec: ListSpec = { name: marker.list, kind: marker.kind, source: null, falsePositiveRate };
      const why = incompatibility(marker);
      if (why !== null) {
        errors.set(spec.name, why);
        logger.error({ list: spec.name, generation: marker.generation, reason: why }, 'generation current in Redis is unreadable by this build; reload it with `callgate load`');
        continue;
      }
      const state = await takeOver(store, spec, marker);
      if (state === null) {
        errors.set(spec.name, 'stored filter missing');
        continue;
      }
      registry.install(state);
      logger.info({ list: spec.name, generation: marker.generation, count: marker.count }, 'list taken over from Redis');
    }
  }

  return {
    mode: 'redis',
    remote: redisConfirmer(store),
    async start() {
      const slots = registry.current.slots;
      if (slots.length === 0) {
        await discover();
        return;
      }
      for (const slot of slots) {
        try {
          await startList(slot.spec);
          errors.delete(slot.spec.name);
        } catch (err) {
          errors.set(slot.spec.name, err instanceof Error ? err.message : String(err));
          logger.error({ list: slot.spec.name, err }, 'list load failed; checks answer not_ready until it loads');
        }
      }
    },
    lastError: (list) => errors.get(list) ?? null,
    describe: () => ({ redis: { up: store.isUp() } }),
    close: () => store.close(),
  };
}
