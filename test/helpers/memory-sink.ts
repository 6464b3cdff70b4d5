/**
 * A GenerationSink that publishes a built list in memory, as embedded mode does, with no lock: for unit tests that
 * drive refresh/refresh.ts's ListRefresher without a service.
 */
import { newGenerationId } from '../../src/lists/generation.js';
import { NORMALISER_VERSION } from '../../src/numbers/normalise.js';
import { noLock, type GenerationSink } from '../../src/refresh/refresh.js';

export const memorySink: GenerationSink = {
  lock: noLock,
  async publish({ spec, read, built, sourceDate }) {
    return Object.freeze({
      spec,
      generation: newGenerationId(),
      filter: built.filter,
      members: Object.freeze({ where: 'memory' as const, set: built.set, terms: read.terms }),
      count: built.set.size,
      loadedAt: new Date(),
      sourceDate,
      fingerprint: read.fingerprint,
      normaliserVersion: NORMALISER_VERSION,
    });
  },
  async installed() {},
};
