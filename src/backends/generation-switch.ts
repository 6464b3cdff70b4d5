/**
 * Which generation of each list this sidecar reads, in Redis mode: it switches to a list's current
 * generation in Redis (on a notice, a poll, or before its own refresh), refuses one of another kind or an
 * unreadable one (alert, keeps what it has), withdraws every list when Redis holds a stored format newer
 * than this build, and publishes its own loads (the refresher's sink: write a generation, then switch the
 * pointer). What it installs always comes from a marker read in Redis, so every sidecar of a fleet reads
 * the same generation once the switch reaches it.
 */
import { NumberFilter } from '../lists/bloom.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { ListSpec } from '../config/list-spec.js';
import type { ListState } from '../lists/registry.js';
import { NORMALISER_VERSION } from '../numbers/normalise.js';
import { ListRefresher, type GenerationSink, type RefreshLock } from '../refresh/refresh.js';
import type { GenerationMarker } from '../redis/codecs.js';
import { UNCHECKED, type RedisRisk } from '../redis/risk.js';
import { incompatibility, kindMismatch, markerBaseline, stateFromMarker, takeOver } from './redis-load.js';
import { listNames, type RedisBackendContext } from './redis-context.js';

/** lastError() of a list withdrawn for a newer stored format. */
const FORMAT_PREFIX = `${ErrorCode.FORMAT}: `;

export interface GenerationSwitch {
  /** Installs a generation read from its marker, clearing the list's errors and alerts. */
  install(state: ListState): void;
  refuseKind(spec: ListSpec, marker: GenerationMarker, why: string): void;
  /** Switches this sidecar to the list's current generation in Redis, if it is not on it already. */
  syncList(name: string, spec?: ListSpec): Promise<void>;
  applyRisk(risk: RedisRisk): void;
  ensureSourceless(spec: ListSpec): Promise<GenerationMarker>;
  readonly refresher: ListRefresher;
}

export interface GenerationSwitchDeps {
  /** intraday-sync.ts: merges Redis's intraday state of a list with this sidecar's copy. */
  seedIntraday(list: string): Promise<void>;
  /** wipe-recovery.ts: a generation vanished under this sidecar may be a wipe. */
  checkEpoch(): Promise<void>;
}

export function createGenerationSwitch(ctx: RedisBackendContext, deps: GenerationSwitchDeps): GenerationSwitch {
  const { registry, store, alerts, logger, errors, timings, options } = ctx;
  const { seedIntraday, checkEpoch } = deps;
  const syncing = new Map<string, Promise<void>>();

  function install(state: ListState): void {
    // A sync or start-up that read its marker before a newer format was met must not undo the withdrawal.
    if (store.risks.risk().format !== null) return;
    registry.install(state);
    errors.delete(state.spec.name);
    alerts.clear(`generation_unreadable:${state.spec.name}`);
    alerts.clear(`generation_kind:${state.spec.name}`);
    alerts.clear(`redis_wiped:${state.spec.name}`);
  }

  /**
   * A generation stored as another kind or role than this sidecar's list (`callgate load NAME=PATH` of a
   * consent list made a deny-list) is never taken over: its members would mean something else here.
   */
  function refuseKind(spec: ListSpec, marker: GenerationMarker, why: string): void {
    const message = `${why} [${ErrorCode.LIST_KIND}]`;
    // The poll meets it again every few seconds: one log line, the alert stays raised.
    const repeat = errors.get(spec.name) === message;
    errors.set(spec.name, message);
    alerts.raise({
      id: `generation_kind:${spec.name}`,
      kind: 'refresh_failed',
      severity: 'critical',
      list: spec.name,
      message: `generation ${marker.generation} of ${spec.name} is not taken over: ${why}. Load it with its kind (callgate load --kind …, or --config).`,
      details: { code: ErrorCode.LIST_KIND, generation: marker.generation, storedKind: marker.kind, storedRole: marker.role ?? null },
    });
    if (!repeat) logger.error({ list: spec.name, generation: marker.generation, code: ErrorCode.LIST_KIND, reason: why }, 'generation of another kind or role; not taken over');
  }

  function unreadable(spec: ListSpec, marker: GenerationMarker, why: string): void {
    errors.set(spec.name, why);
    alerts.raise({
      id: `generation_unreadable:${spec.name}`,
      kind: 'refresh_failed',
      severity: 'critical',
      list: spec.name,
      message: `generation ${marker.generation} of ${spec.name} cannot be read by this sidecar (${why}); it keeps its current generation. Reload the list with this version (callgate load).`,
      details: { generation: marker.generation },
    });
    logger.error({ list: spec.name, generation: marker.generation, reason: why }, 'generation unreadable by this build; keeping the current one');
  }

  /** Switches this sidecar to the list's current generation in Redis, if it is not on it already. */
  function syncList(name: string, spec?: ListSpec): Promise<void> {
    const running = syncing.get(name);
    if (running) return running;
    const run = (async () => {
      // A newer stored format: nothing is installed until this sidecar is upgraded (applyRisk withdrew all).
      if (store.risks.risk().format !== null) return;
      const marker = await store.generations.readCurrent(name);
      const slot = registry.slot(name);
      if (marker === null && slot?.state != null) {
        // The generation this sidecar reads vanished under it: a wipe (then the epoch went too, and the epoch
        // check recovers), or keys evicted or deleted by hand (checks of its hits block as unconfirmed meanwhile).
        if (!alerts.active().some((a) => a.id === `redis_wiped:${name}`)) {
          alerts.raise({
            id: `redis_wiped:${name}`,
            kind: 'redis_wiped',
            severity: 'critical',
            list: name,
            message: `the current generation of ${name} vanished from Redis under this sidecar; its hits answer unconfirmed until a generation is loaded again`,
            details: { generation: slot.state.generation },
          });
        }
        // Not awaited: a recovery it starts syncs this list again (awaiting here would wait on itself).
        void checkEpoch().catch((err: unknown) => logger.warn({ err }, 'checking the fleet epoch failed'));
        return;
      }
      if (marker === null || slot?.state?.generation === marker.generation) return;
      const listSpec: ListSpec = slot?.spec ?? spec ?? { name, kind: marker.kind, role: marker.kind === 'allow' ? (marker.role ?? 'consent') : null, source: null, ...options.defaults };
      const wrongKind = kindMismatch(listSpec, marker);
      if (wrongKind !== null) return refuseKind(listSpec, marker, wrongKind);
      const why = incompatibility(marker);
      if (why !== null) return unreadable(listSpec, marker, why);
      const state = await takeOver(store.generations, listSpec, marker);
      if (state === null) return unreadable(listSpec, marker, 'its stored filter is missing');
      install(state);
      await seedIntraday(name);
      logger.info({ list: name, generation: marker.generation, previous: slot?.state?.generation ?? null, count: marker.count }, 'switched to generation');
    })().finally(() => syncing.delete(name));
    syncing.set(name, run);
    return run;
  }

  const sink: GenerationSink = {
    async lock(list): Promise<RefreshLock | null> {
      const lock = await store.locks.acquireLock(`refresh:${list}`, timings.lockTtlMs);
      if (lock === null) return null;
      // Catch up first: another sidecar may have just loaded the same source.
      await syncList(list).catch((err: unknown) => logger.warn({ list, err }, 'sync before refresh failed'));
      return { signal: lock.keepAlive((err) => logger.error({ list, err }, 'refresh lock lost')), release: () => lock.release() };
    },
    lockExpiresInMs: (list) => store.locks.lockTtlMs(`refresh:${list}`),
    async publish({ spec, read, built, sourceDate, supersedesBefore, signal }) {
      const format = store.risks.risk().format;
      if (format !== null) throw new CallgateError(ErrorCode.FORMAT, format);
      const marker = await store.generations.writeGeneration({
        list: spec.name,
        kind: spec.kind,
        role: spec.role,
        keys: built.set.keys() as Float64Array,
        filter: built.filterBinary ?? built.filter.toBinary(),
        normaliserVersion: NORMALISER_VERSION,
        hashId: built.filter.hashId,
        fingerprint: read.fingerprint,
        sourceDate: sourceDate.toISOString(),
        terms: read.terms,
        pacing: spec.refresh.pacing,
        onPaced: (figures) => logger.info({ list: spec.name, pacing: figures }, 'load paced'),
      });
      signal.throwIfAborted();
      // The new file supersedes intraday additions made before it; later ones stay (atomically with the switch).
      await store.generations.switchCurrent(spec.name, marker.generation, { clearIntradayBefore: supersedesBefore + ctx.clockOffsetMs });
      return stateFromMarker(spec, marker, built.filter);
    },
    async installed({ spec }) {
      errors.delete(spec.name);
      await seedIntraday(spec.name);
    },
  };

  const refresher = new ListRefresher({ registry, alerts, sink, logger, installed: markerBaseline(store.generations) });

  /**
   * Eviction seen or possible: the store answers every Redis hit and rules check 'unconfirmed' (misses still
   * answer from the filter and intraday copy, which no eviction touches); an alert says what clears it.
   * A newer stored format: every list is withdrawn (not_ready) — even a Bloom miss may be listed in data
   * this build cannot read.
   */
  function applyRisk(risk: RedisRisk): void {
    // A reconnection not yet checked blocks too (redis/risk.ts) but is routine: no alert (should the check keep
    // failing, unconfirmed_rate tells).
    if (risk.role === null) alerts.clear('redis_role');
    else if (risk.role !== UNCHECKED) {
      alerts.raise({ id: 'redis_role', kind: 'redis_role', severity: 'critical', message: `${risk.role}. Every check that needs Redis answers block / unconfirmed until callgate reaches a master (with Sentinel, after the promotion).` });
    }
    if (risk.eviction === null) alerts.clear('redis_eviction');
    else {
      alerts.raise({
        id: 'redis_eviction',
        kind: 'redis_eviction',
        severity: 'critical',
        message: `${risk.eviction}. Every check that needs Redis answers block / unconfirmed until maxmemory-policy is noeviction and, if keys were evicted, the lists are reloaded and an operator runs callgate accept-evictions.`,
      });
    }
    if (risk.format === null) {
      alerts.clear('redis_format');
      for (const [name, why] of errors) if (why.startsWith(FORMAT_PREFIX)) errors.delete(name);
    } else {
      alerts.raise({ id: 'redis_format', kind: 'redis_format', severity: 'critical', message: `${risk.format}. Every check answers block / not_ready until this sidecar is upgraded.` });
      for (const name of listNames(ctx)) {
        registry.withdraw(name);
        errors.set(name, `${FORMAT_PREFIX}${risk.format}`);
      }
    }
  }

  /** A source-less list's generation: an empty one, its members being its intraday additions. */
  async function ensureSourceless(spec: ListSpec): Promise<GenerationMarker> {
    const filter = NumberFilter.create(1, spec.falsePositiveRate);
    return (await store.generations.ensureEmptyGeneration(spec.name, spec.kind, { normaliserVersion: NORMALISER_VERSION, hashId: filter.hashId, filter: filter.toBinary() })).marker;
  }

  return { install, refuseKind, syncList, applyRisk, ensureSourceless, refresher };
}
