/**
 * Redis mode: a list file → a new generation in Redis (members in compact buckets, the filter's
 * binary form, the marker last), then the current pointer switched to it. Used by `callgate load`
 * and by a sidecar whose file differs from the generation current in Redis.
 */
import { FILTER_HASH_ID, NumberFilter } from '../lists/bloom.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { buildGeneration } from '../lists/generation.js';
import { type LoadReport, refuseEmpty, reportOf } from '../refresh/load-report.js';
import { fetchList } from '../refresh/fetch.js';
import type { InstalledLists } from '../refresh/install-record.js';
import { readsTerms, type ListSpec } from '../config/list-spec.js';
import type { ListState } from '../lists/registry.js';
import { NORMALISER_VERSION } from '../numbers/normalise.js';
import { judgeForList } from '../refresh/guards.js';
import type { GenerationMarker } from '../redis/codecs.js';
import type { Connection } from '../redis/connection.js';
import type { FleetLocks } from '../redis/fleet-lock.js';
import type { Generations } from '../redis/generations.js';

/** What a load uses of Redis: the list's generations, its fleet lock and Redis's clock (a RedisStore's parts). */
export interface LoadTarget {
  readonly generations: Pick<Generations, 'readCurrent' | 'writeGeneration' | 'switchCurrent'>;
  readonly locks: Pick<FleetLocks, 'acquireLock'>;
  readonly connection: Pick<Connection, 'now'>;
}

export interface RedisLoadReport extends LoadReport {
  readonly redisWriteMs: number;
}

/**
 * `callgate load`: one list file → a new generation, switched in. Takes the list's fleet refresh lock
 * (never two loads of one list at once), applies the refresh guards against the current generation
 * unless forced, and drops the intraday additions that the new file supersedes (made before it).
 */
export async function loadListIntoRedis(store: LoadTarget, spec: ListSpec, options: { force?: boolean; lockTtlMs?: number } = {}): Promise<{ state: ListState; report: RedisLoadReport }> {
  if (spec.source === null) throw new CallgateError(ErrorCode.CONFIG, `list ${spec.name} has no source file`);
  const startedAt = await store.connection.now();
  // Read and built before the lock is taken: the build (sort and filter) runs on this thread in one synchronous
  // stretch, which leaves no turn for the lock's renewals; at 12M on a loaded machine (load ~14) it outlasted the
  // 30 s TTL and the load was refused (CALLGATE_ERR_LOCK_LOST, bench/growth.ts), and 100M builds ~8× longer.
  // The lock guards what must not interleave: the guards against the current generation, the writes, the switch.
  const { read, built } = await readAndBuild(spec);
  const lock = await store.locks.acquireLock(`refresh:${spec.name}`, options.lockTtlMs ?? 30_000);
  if (lock === null) throw new CallgateError(ErrorCode.REDIS, `another process is refreshing ${spec.name}; try again when it is done`);
  const signal = lock.keepAlive();
  try {
    return await loadLocked(store.generations, spec, read, built, startedAt, signal, options.force ?? false);
  } finally {
    await lock.release().catch(() => undefined);
  }
}

async function readAndBuild(spec: ListSpec): Promise<{ read: ReadList; built: ReturnType<typeof buildGeneration> }> {
  const source = spec.source as string;
  // The refresh's own read path: settled, whole, matching its manifest (issue 11).
  const fetched = await fetchList(source, null, { terms: readsTerms(spec), settleMs: spec.refresh.settleMs, maxListBytes: spec.refresh.maxListBytes, maxLineChars: spec.refresh.maxLineChars, kind: spec.kind });
  if (fetched.kind !== 'changed') throw new CallgateError(ErrorCode.LIST_READ, `cannot read list ${source}`);
  const read = { ...fetched.read, sourceDate: fetched.sourceDate ?? undefined };
  refuseEmpty(spec, read);
  return { read, built: buildGeneration(read.keys, spec.falsePositiveRate) };
}

type ReadList = Extract<Awaited<ReturnType<typeof fetchList>>, { kind: 'changed' }>['read'] & { sourceDate: Date | undefined };

async function loadLocked(generations: LoadTarget['generations'], spec: ListSpec, read: ReadList, built: ReturnType<typeof buildGeneration>, startedAt: number, signal: AbortSignal, force: boolean): Promise<{ state: ListState; report: RedisLoadReport }> {
  const current = await generations.readCurrent(spec.name);
  // Replacing a consent list by a deny-list (or the reverse) is a mistake sidecars would refuse to take over.
  const wrongKind = current === null ? null : kindMismatch(spec, current);
  if (wrongKind !== null && !force) throw new CallgateError(ErrorCode.LIST_KIND, `${spec.name}: the current generation ${wrongKind}; give its kind (--kind, --role) or --force to change it`);
  const judgement = judgeForList(spec.refresh, { numbers: built.set.size, lines: read.lines, badLines: read.badLines }, current === null ? null : { count: current.count }, force);
  if (!judgement.ok) throw new CallgateError(ErrorCode.LIST_REFUSED, `${judgement.message} (${judgement.code}; --force overrides)`);
  const writeStarted = performance.now();
  const marker = await generations.writeGeneration({
    list: spec.name,
    kind: spec.kind,
    role: spec.role,
    keys: built.set.keys() as Float64Array,
    filter: built.filter.toBinary(),
    normaliserVersion: NORMALISER_VERSION,
    hashId: built.filter.hashId,
    fingerprint: read.fingerprint,
    sourceDate: read.sourceDate?.toISOString(),
    terms: read.terms,
    pacing: spec.refresh.pacing,
  });
  signal.throwIfAborted();
  // Intraday additions made before the file (or before this load) are superseded by it; later ones stay.
  const supersedesBefore = Math.min(startedAt, read.sourceDate?.getTime() ?? startedAt);
  await generations.switchCurrent(spec.name, marker.generation, { clearIntradayBefore: supersedesBefore });
  const redisWriteMs = performance.now() - writeStarted;
  const report = {
    ...reportOf(spec, marker.generation, read, built.set.size, built.duplicates, built.buildMs, built.filter.byteLength, 0),
    redisWriteMs: Math.round(redisWriteMs),
  };
  return { state: stateFromMarker(spec, marker, built.filter), report };
}

/** Why a stored generation must not serve as this list (another kind, or another role when the marker says), else null. */
export function kindMismatch(spec: ListSpec, marker: GenerationMarker): string | null {
  if (marker.kind !== spec.kind) return `it is stored as a ${marker.kind}-list, not a ${spec.kind}-list`;
  if (spec.kind === 'allow' && marker.role !== undefined && marker.role !== spec.role) return `it is stored as a ${marker.role} list, not a ${spec.role ?? 'consent'} list`;
  return null;
}

/** Why a stored generation cannot be read by this build, or null when it can. */
export function incompatibility(marker: GenerationMarker): string | null {
  if (marker.normaliserVersion !== NORMALISER_VERSION) return `normaliser ${marker.normaliserVersion} differs from ours (${NORMALISER_VERSION})`;
  if (marker.hashId !== FILTER_HASH_ID) return `filter hash ${marker.hashId} differs from ours (${FILTER_HASH_ID})`;
  return null;
}

/**
 * True when the generation differs from this build only by an OLDER normaliser revision (the 'nN' of
 * NORMALISER_VERSION) and has no members: a list without a source, which this build may migrate
 * (backends/redis-startup.ts). A newer revision is never rewritten by an older build: that one fails closed.
 */
export function isOlderNormaliserOnly(marker: GenerationMarker): boolean {
  const revision = (v: string): number => Number(/^n(\d+)\//.exec(v)?.[1] ?? Number.NaN);
  return marker.count === 0 && marker.hashId === FILTER_HASH_ID && revision(marker.normaliserVersion) < revision(NORMALISER_VERSION);
}

/** Takes over a stored generation: its filter from Redis, members left in Redis. Null when the filter is gone. */
export async function takeOver(generations: Pick<Generations, 'readFilter'>, spec: ListSpec, marker: GenerationMarker): Promise<ListState | null> {
  const buf = await generations.readFilter(marker);
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

/**
 * Redis mode's durable record of the last installed count: the current generation's marker, which
 * outlives any sidecar. The shrink guard's baseline even when this sidecar could not take the
 * generation over (e.g. written by another normaliser version). Redis wiped: no baseline.
 */
export function markerBaseline(generations: Pick<Generations, 'readCurrent'>): InstalledLists {
  return {
    async baseline(list) {
      const m = await generations.readCurrent(list);
      return m === null ? { kind: 'none' } : { kind: 'known', list: { count: m.count, fingerprint: m.fingerprint, forcedFingerprint: null, installedAt: '' } };
    },
    // The marker that publish writes is the record.
    async remember() {},
  };
}
