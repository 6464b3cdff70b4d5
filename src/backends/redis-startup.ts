/**
 * Redis mode start-up of one configured list: a current generation in Redis readable by this build is taken
 * over at once (its stored filter, nothing else read); a configured file that differs and is newer than that
 * generation's source is then loaded; an older file is never loaded over a newer generation (a restarting
 * sidecar must not roll the fleet back). A list without a source is created empty, or migrated to this
 * normaliser version, its numbers being its intraday entries.
 */
import { stat } from 'node:fs/promises';
import { NumberFilter } from '../lists/bloom.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { fingerprintFile } from '../refresh/fingerprint.js';
import { isUrlSource } from '../refresh/source.js';
import type { ListSpec } from '../config/list-spec.js';
import type { ListState } from '../lists/registry.js';
import { missedReading, NORMALISER_VERSION } from '../numbers/normalise.js';
import { e164ToKey, keyToE164, type NumberKey } from '../numbers/number-key.js';
import type { ListRefresher } from '../refresh/refresh.js';
import type { GenerationMarker } from '../redis/codecs.js';
import { incompatibility, isOlderNormaliserOnly, kindMismatch, takeOver } from './redis-load.js';
import type { RedisBackendContext } from './redis-context.js';

export interface RedisStartupDeps {
  install(state: ListState): void;
  refuseKind(spec: ListSpec, marker: GenerationMarker, why: string): void;
  ensureSourceless(spec: ListSpec): Promise<GenerationMarker>;
  readonly refresher: ListRefresher;
}

/** Returns startList: the start-up of one configured list; throws when the list cannot be served. */
export function createRedisStartup(ctx: RedisBackendContext, deps: RedisStartupDeps): (spec: ListSpec) => Promise<void> {
  const { registry, store, logger } = ctx;
  const { install, refuseKind, ensureSourceless, refresher } = deps;

  /** Start-up of one configured list. */
  async function startList(spec: ListSpec): Promise<void> {
    const started = performance.now();
    let current = await store.generations.readCurrent(spec.name);
    if (spec.source === null && current === null) {
      // On a wiped Redis this is re-created from this sidecar's copy: seedIntraday re-publishes the additions.
      current = await ensureSourceless(spec);
    }
    const wrongKind = current === null ? null : kindMismatch(spec, current);
    if (current !== null && wrongKind === null && spec.source === null && isOlderNormaliserOnly(current)) current = await migrateSourceless(spec, current);
    if (current !== null && wrongKind !== null) {
      refuseKind(spec, current, wrongKind);
      // With a source, the file below makes a generation of the right kind; without one, the list stays not loaded.
      if (spec.source === null) throw new CallgateError(ErrorCode.LIST_KIND, `list ${spec.name}: ${wrongKind}`);
    } else if (current !== null) {
      const why = incompatibility(current);
      if (why === null) {
        const state = await takeOver(store.generations, spec, current);
        if (state !== null) {
          install(state);
          logger.info({ list: spec.name, generation: current.generation, count: current.count, ms: Math.round(performance.now() - started) }, 'list taken over from Redis');
        }
      } else {
        logger.warn({ list: spec.name, generation: current.generation, reason: why }, 'current generation unreadable by this build');
      }
    }
    if (spec.source === null) {
      if (registry.slot(spec.name)?.state == null) throw new Error(`list ${spec.name} has no source and its generation in Redis is unreadable`);
      return;
    }
    if (current !== null && registry.slot(spec.name)?.state != null && !(await fileIsNewer(spec.source, current))) return;
    const outcome = await refresher.refresh(spec.name, { force: false, trigger: 'startup' });
    if (outcome.status === 'busy') {
      // Another sidecar is loading this list: its generation reaches us through the sync.
      logger.info({ list: spec.name }, 'another sidecar is loading this list; waiting for its generation');
      return;
    }
    if (outcome.status !== 'loaded' && outcome.status !== 'unchanged') throw new Error(outcome.message ?? outcome.status);
  }

  /**
   * A list without a source keeps its numbers as intraday entries over an empty generation: a new
   * normaliser version (numbers/normalise.ts) gets a new empty generation of its own, the entries are kept,
   * and a deny-list lists the readings the old version missed (missedReading) before the switch.
   * A list with a source is simply read again from it by the refresh that follows.
   */
  async function migrateSourceless(spec: ListSpec, old: GenerationMarker): Promise<GenerationMarker> {
    const filter = NumberFilter.create(1, spec.falsePositiveRate);
    const marker = await store.generations.writeGeneration({ list: spec.name, kind: spec.kind, keys: new Float64Array(0), filter: filter.toBinary(), normaliserVersion: NORMALISER_VERSION, hashId: filter.hashId, fingerprint: old.fingerprint });
    let added = 0;
    if (spec.kind === 'deny') {
      const entries = await store.intraday.readIntraday(spec.name);
      const present = new Set(entries.map((e) => e.key));
      const missed = new Set<NumberKey>();
      for (const { key } of entries) {
        const m = missedReading(keyToE164(key));
        if (m !== null && !present.has(e164ToKey(m))) missed.add(e164ToKey(m));
      }
      if (missed.size > 0) await store.intraday.addIntraday(spec.name, [...missed], { who: 'normaliser-migration', revocable: false });
      added = missed.size;
    }
    await store.generations.switchCurrent(spec.name, marker.generation);
    logger.warn({ list: spec.name, from: old.normaliserVersion, to: NORMALISER_VERSION, generation: marker.generation, added }, 'list without a source migrated to this normaliser version');
    return marker;
  }

  /** Whether a configured source should replace the current generation: different bytes, not older. */
  async function fileIsNewer(source: string, current: GenerationMarker): Promise<boolean> {
    if (isUrlSource(source)) return true; // conditional requests decide
    if ((await fingerprintFile(source)) === current.fingerprint) return false;
    const mtime = (await stat(source)).mtime;
    const currentDate = current.sourceDate ? Date.parse(current.sourceDate) : 0;
    if (mtime.getTime() < currentDate) {
      logger.warn({ list: current.list, generation: current.generation, file: source }, 'configured file is older than the current generation in Redis; not loading it');
      return false;
    }
    return true;
  }

  return startList;
}
