/**
 * Embedded mode: every list is read from its file into this process (filter + exact set).
 * Lists load one after another (two cores: parallel loads would only compete) and each is
 * installed as soon as it is built.
 */
import type { ListBackend } from './list-backend.js';
import { loadListIntoMemory } from './list-load.js';
import type { ListRegistry } from './list-state.js';
import type { Logger } from './logger.js';

export function createEmbeddedBackend(registry: ListRegistry, logger: Logger): ListBackend {
  const errors = new Map<string, string>();
  return {
    mode: 'embedded',
    remote: null,
    async start() {
      for (const slot of registry.current.slots) {
        const spec = slot.spec;
        try {
          const { state, report } = await loadListIntoMemory(spec);
          registry.install(state);
          errors.delete(spec.name);
          logger.info({ ...report }, 'list loaded');
        } catch (err) {
          errors.set(spec.name, err instanceof Error ? err.message : String(err));
          logger.error({ list: spec.name, err }, 'list load failed; checks answer not_ready until it loads');
        }
      }
    },
    lastError: (list) => errors.get(list) ?? null,
    describe: () => ({}),
    close: async () => {},
  };
}
