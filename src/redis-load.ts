/**
 * Redis mode: a list file → a new generation in Redis (members in compact buckets, the filter's
 * binary form, the marker last), then the current pointer switched to it. Used by `callgate load`
 * and by a sidecar whose file differs from the generation current in Redis.
 */
import { FILTER_HASH_ID, NumberFilter } from './bloom.js';
import { CallgateError, ErrorCode } from './errors.js';
import { buildGeneration } from './list-build.js';
import { type LoadReport, refuseEmpty, reportOf } from './list-load.js';
import { readListFile } from './list-read.js';
import type { ListSpec } from './list-spec.js';
import type { ListState } from './list-state.js';
import { NORMALISER_VERSION } from './normalise.js';
import type { GenerationMarker } from './redis-keys.js';
import type { RedisStore } from './redis-store.js';

export interface RedisLoadReport extends LoadReport {
  readonly redisWriteMs: number;
}

export async function loadListIntoRedis(store: RedisStore, spec: ListSpec): Promise<{ state: ListState; report: RedisLoadReport }> {
  if (spec.source === null) throw new CallgateError(ErrorCode.CONFIG, `list ${spec.name} has no source file`);
  const read = await readListFile(spec.source);
  refuseEmpty(spec, read);
  const built = buildGeneration(read.keys, spec.falsePositiveRate);
  const writeStarted = performance.now();
  const marker = await store.writeGeneration({
    list: spec.name,
    kind: spec.kind,
    keys: built.set.keys() as Float64Array,
    filter: built.filter.toBinary(),
    normaliserVersion: NORMALISER_VERSION,
    hashId: built.filter.hashId,
    fingerprint: read.fingerprint,
    sourceDate: read.sourceDate?.toISOString(),
  });
  await store.switchCurrent(spec.name, marker.generation);
  const redisWriteMs = performance.now() - writeStarted;
  const report = {
    ...reportOf(spec, marker.generation, read, built.set.size, built.duplicates, built.buildMs, built.filter.byteLength, 0),
    redisWriteMs: Math.round(redisWriteMs),
  };
  return { state: stateFromMarker(spec, marker, built.filter), report };
}

/** Why a stored generation cannot be read by this build, or null when it can. */
export function incompatibility(marker: GenerationMarker): string | null {
  if (marker.normaliserVersion !== NORMALISER_VERSION) return `normaliser ${marker.normaliserVersion} differs from ours (${NORMALISER_VERSION})`;
  if (marker.hashId !== FILTER_HASH_ID) return `filter hash ${marker.hashId} differs from ours (${FILTER_HASH_ID})`;
  return null;
}

/** Takes over a stored generation: its filter from Redis, members left in Redis. Null when the filter is gone. */
export async function takeOver(store: RedisStore, spec: ListSpec, marker: GenerationMarker): Promise<ListState | null> {
  const buf = await store.readFilter(marker);
  if (buf === null) return null;
  return stateFromMarker(spec, marker, NumberFilter.fromBinary(buf));
}

export function stateFromMarker(spec: ListSpec, marker: GenerationMarker, filter: NumberFilter): ListState {
  return Object.freeze({
    spec,
    generation: marker.generation,
    filter,
    members: Object.freeze({ where: 'redis' as const, generation: marker.generation, buckets: marker.buckets }),
    count: marker.count,
    loadedAt: new Date(),
    sourceDate: marker.sourceDate ? new Date(marker.sourceDate) : null,
    fingerprint: marker.fingerprint,
    normaliserVersion: marker.normaliserVersion,
  });
}
