/**
 * Redis mode: the exact members live once in Redis for the whole fleet; each sidecar holds only the
 * Bloom filters and each list's intraday additions.
 *
 * - Start-up: a list whose current generation in Redis is readable by this build is taken over at
 *   once (its stored filter, nothing else read). A configured file that differs and is newer than
 *   that generation's source is then loaded; an older file is never loaded over a newer generation
 *   (a restarting sidecar must not roll the fleet back). With no list configured, the sidecar
 *   serves the lists current in Redis.
 * - Refresh: one sidecar at a time per list (a lock with expiry and renewal) writes a new
 *   generation and switches the pointer; every other sidecar learns of it by pub/sub and, in case
 *   a message is lost or a connection dropped, by polling the pointer.
 * - Intraday changes go to Redis first (a sorted set per list + one stream); every sidecar follows
 *   the stream from its last entry, replaying after a reconnect.
 * - Heartbeats say which generations this sidecar reads; old generations are collected only when no
 *   live sidecar reads them.
 * - Redis losing its data (a wipe): every sidecar keeps a durable copy of the change stream and of the
 *   refusals and attempts it recorded (backends/fleet-copy.ts), which counts as listed on its own. A wipe is seen
 *   as the fleet epoch gone or changed, or a generation's marker vanishing under this sidecar; it raises a
 *   critical alert, re-creates the lists this sidecar is configured with (source-less ones from its copy,
 *   never empty-and-forgotten), re-publishes the copy, and only then answers rules checks again.
 */
import { stat } from 'node:fs/promises';
import type { AlertRegistry } from '../supervision/alerts.js';
import { NumberFilter } from '../lists/bloom.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { Candidate, RemoteConfirmer } from '../check/deny-lists.js';
import type { Membership } from '../check/verdict.js';
import { fingerprintFile } from '../refresh/fingerprint.js';
import type { ChangeOutcome, ListBackend } from './list-backend.js';
import { isUrlSource } from '../refresh/source.js';
import type { ListDefaults, ListSpec } from '../config/list-spec.js';
import type { ListRegistry, ListSlot, ListState } from '../lists/registry.js';
import type { Logger } from '../core/logger.js';
import { missedReading, NORMALISER_VERSION } from '../numbers/normalise.js';
import { e164ToKey, keyToE164, type NumberKey } from '../numbers/number-key.js';
import { ListRefresher, type GenerationSink, type RefreshLock } from '../refresh/refresh.js';
import { compareStreamIds, type GenerationMarker } from '../redis/codecs.js';
import { isListName } from '../redis/keys.js';
import { incompatibility, isOlderNormaliserOnly, kindMismatch, loadListIntoRedis, markerBaseline, stateFromMarker, takeOver } from './redis-load.js';
import { DEFAULT_ATTEMPT_WINDOW_MS, type RedisRisk, type RedisStore } from '../redis/store.js';
import { FleetCopy } from './fleet-copy.js';

/** lastError() of a list withdrawn for a newer stored format. */
const FORMAT_PREFIX = `${ErrorCode.FORMAT}: `;

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
      return store.confirm(items);
    },
  };
}

export interface FleetTimings {
  /** How often the current pointers are polled (the safety net under pub/sub). @default 2000 */
  readonly pollMs: number;
  /** How often this sidecar says which generations it reads. @default 5000 */
  readonly heartbeatMs: number;
  /** How often old generations are collected. @default 60000 */
  readonly gcEveryMs: number;
  /** A generation younger than this is never collected (loads in progress, sidecars switching). @default 600000 */
  readonly gcGraceMs: number;
  /** Refresh lock expiry; renewed every third of it while the load runs. @default 30000 */
  readonly lockTtlMs: number;
  /**
   * After a wipe, how long this sidecar waits, once it has re-published its copy, before answering rules checks
   * again: time for the other live sidecars (which see the wipe within pollMs) to re-publish theirs.
   * @default 3 × pollMs
   */
  readonly wipeHoldMs: number;
}

export const DEFAULT_FLEET_TIMINGS: FleetTimings = Object.freeze({ pollMs: 2000, heartbeatMs: 5000, gcEveryMs: 60_000, gcGraceMs: 600_000, lockTtlMs: 30_000, wipeHoldMs: 6000 });

/** `who` of the changes a sidecar re-publishes from its copy after a wipe. */
export const RESTORE_WHO = 'callgate:restore';

export interface RedisBackendOptions {
  readonly registry: ListRegistry;
  readonly store: RedisStore;
  readonly alerts: AlertRegistry;
  readonly logger: Logger;
  readonly defaults: ListDefaults;
  readonly instanceId: string;
  readonly timings?: Partial<FleetTimings>;
  /** This sidecar's durable copy (backends/journal.ts format); null keeps it in memory only (lost on restart). @default null */
  readonly journalPath?: string | null;
  /** Attempts kept in the copy this long (the longest frequency window of any policy). @default 30 days */
  readonly keepAttemptsMs?: number;
}

export function createRedisBackend(options: RedisBackendOptions): ListBackend {
  const { registry, store, alerts, logger } = options;
  const timings: FleetTimings = { ...DEFAULT_FLEET_TIMINGS, wipeHoldMs: 3 * (options.timings?.pollMs ?? DEFAULT_FLEET_TIMINGS.pollMs), ...options.timings };
  const errors = new Map<string, string>();
  const timers: NodeJS.Timeout[] = [];
  const stoppers: (() => Promise<void>)[] = [];
  /** Redis clock − local clock, so intraday cut-offs are on Redis's clock. */
  let clockOffsetMs = 0;
  const syncing = new Map<string, Promise<void>>();

  function install(state: ListState): void {
    // A sync or start-up that read its marker before a newer format was met must not undo the withdrawal.
    if (store.risk().format !== null) return;
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

  /** Set by start(): the durable copy (memory only until then). */
  let copy: FleetCopy | null = null;
  /** The stream id of the last change this sidecar applied. */
  let lastAppliedId = '0-0';
  let recovering: Promise<void> | null = null;

  /** The list's slot, its overlay holding this sidecar's copy of the list. */
  function overlayOf(list: string): ListSlot | undefined {
    const slot = registry.slot(list);
    if (slot !== undefined) copy?.replayInto(list, slot.intraday);
    return slot;
  }

  /** Before this (ms, Redis clock), a list's additions are superseded by its current file generation; -Infinity: none are. */
  async function supersededBefore(list: string, state: ListState | null): Promise<number> {
    if (state === null || state.sourceDate === null) return Number.NEGATIVE_INFINITY;
    const registered = await store.generationStartedAt(list, state.generation);
    return Math.min(registered ?? Number.POSITIVE_INFINITY, state.sourceDate.getTime());
  }

  /**
   * Merges Redis's intraday state of a list with this sidecar's copy (after a switch, a stream gap, a wipe):
   * what either holds is kept (the blocking side wins), except additions that the current file generation
   * supersedes (made before it, the rule switchCurrent applies in Redis). What the copy holds and Redis lacks
   * is re-published: deny-list additions and allow-list revocations (intraday grants are not: they allow).
   * Without `force`, only when this copy has read the stream up to now, so that a removal it has not read yet
   * is not undone.
   */
  async function seedIntraday(list: string, force = false): Promise<void> {
    const slot = overlayOf(list);
    if (slot === undefined) return;
    const upTo = await store.lastChangeId();
    const entries = await store.readIntraday(list);
    const revocable = slot.spec.kind === 'allow';
    const revoked = revocable ? await store.revocations(list) : new Map<number, number>();
    const inRedis = new Set(entries.map((e) => e.key));
    const cutoff = await supersededBefore(list, slot.state);
    let superseded = 0;
    const missing: number[] = [];
    for (const [key, at] of [...slot.intraday.entries()]) {
      if (inRedis.has(key)) continue;
      if (at < cutoff) {
        slot.intraday.forget(key);
        superseded++;
      } else if (!revocable) missing.push(key);
    }
    if (superseded > 0) await copy?.supersede(list, cutoff);
    for (const e of entries) slot.intraday.add(e.key, e.at);
    for (const [key, at] of revoked) slot.intraday.revoke(key, at);
    const missingRevocations = revocable ? [...slot.intraday.revocations()].filter(([key, at]) => (revoked.get(key) ?? -1) < at).map(([key]) => key) : [];
    if (missing.length + missingRevocations.length === 0) return;
    if (!force && compareStreamIds(lastAppliedId, upTo) < 0) return;
    if (missing.length > 0) await store.addIntraday(list, missing, { who: RESTORE_WHO });
    if (missingRevocations.length > 0) await store.removeIntraday(list, missingRevocations, { who: RESTORE_WHO, revocable: true });
    logger.warn({ list, additions: missing.length, revocations: missingRevocations.length }, 're-published intraday changes that Redis had lost, from this sidecar\'s copy');
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
      if (store.risk().format !== null) return;
      const marker = await store.readCurrent(name);
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
      const state = await takeOver(store, listSpec, marker);
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
      const lock = await store.acquireLock(`refresh:${list}`, timings.lockTtlMs);
      if (lock === null) return null;
      // Catch up first: another sidecar may have just loaded the same source.
      await syncList(list).catch((err: unknown) => logger.warn({ list, err }, 'sync before refresh failed'));
      return { signal: lock.keepAlive((err) => logger.error({ list, err }, 'refresh lock lost')), release: () => lock.release() };
    },
    lockExpiresInMs: (list) => store.lockTtlMs(`refresh:${list}`),
    async publish({ spec, read, built, sourceDate, supersedesBefore, signal }) {
      const format = store.risk().format;
      if (format !== null) throw new CallgateError(ErrorCode.FORMAT, format);
      const marker = await store.writeGeneration({
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
      });
      signal.throwIfAborted();
      // The new file supersedes intraday additions made before it; later ones stay (atomically with the switch).
      await store.switchCurrent(spec.name, marker.generation, { clearIntradayBefore: supersedesBefore + clockOffsetMs });
      return stateFromMarker(spec, marker, built.filter);
    },
    async installed({ spec }) {
      errors.delete(spec.name);
      await seedIntraday(spec.name);
    },
  };

  const refresher = new ListRefresher({ registry, alerts, sink, logger, installed: markerBaseline(store) });

  /**
   * Eviction seen or possible: the store answers every Redis hit and rules check 'unconfirmed' (misses still
   * answer from the filter and intraday copy, which no eviction touches); an alert says what clears it.
   * A newer stored format: every list is withdrawn (not_ready) — even a Bloom miss may be listed in data
   * this build cannot read.
   */
  function applyRisk(risk: RedisRisk): void {
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
      for (const name of listNames()) {
        registry.withdraw(name);
        errors.set(name, `${FORMAT_PREFIX}${risk.format}`);
      }
    }
  }

  /** A source-less list's generation: an empty one, its members being its intraday additions. */
  async function ensureSourceless(spec: ListSpec): Promise<GenerationMarker> {
    const filter = NumberFilter.create(1, spec.falsePositiveRate);
    return (await store.ensureEmptyGeneration(spec.name, spec.kind, { normaliserVersion: NORMALISER_VERSION, hashId: filter.hashId, filter: filter.toBinary() })).marker;
  }

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
      if (!discoverAll) {
        for (const slot of registry.current.slots) {
          if (closed) return;
          const spec = slot.spec;
          if ((await store.readCurrent(spec.name)) !== null) continue;
          try {
            if (spec.source === null) await ensureSourceless(spec);
            else if (!isUrlSource(spec.source)) await loadListIntoRedis(store, spec, { lockTtlMs: timings.lockTtlMs });
          } catch (err) {
            // Another sidecar may be re-loading it (its lock): its generation reaches us through the sync.
            logger.warn({ list: spec.name, err }, 're-creating a list after a wipe failed; the next poll retries');
          }
        }
      }
      for (const name of listNames()) {
        await syncList(name);
        await seedIntraday(name, true);
      }
      const now = await store.now();
      for (const [key, r] of copy?.runningRefusals(now) ?? []) await store.restoreRefusal(key, r.at, r.until);
      for (const [key, attempts] of copy?.recentAttempts(now) ?? []) await store.restoreAttempts(key, attempts);
      await pause(timings.wipeHoldMs);
      if (closed) return;
      await adoptEpoch(await store.ensureEpoch());
      logger.warn({ reason }, 'recovered from the wipe: lists re-created and this sidecar\'s copy re-published');
    })().finally(() => {
      recovering = null;
    });
    return recovering;
  }

  async function adoptEpoch(epoch: string): Promise<void> {
    await copy?.setEpoch(epoch, Date.now());
    store.expectEpoch(epoch);
  }

  /** Compares Redis's epoch with the one this sidecar knows; a loss or a change is a wipe. */
  async function checkEpoch(): Promise<void> {
    if (recovering !== null) return;
    const seen = await store.readEpoch();
    const known = copy?.epoch ?? null;
    if (known === null) {
      // Nothing known yet: take the fleet's, or write it if lists exist (a fleet from before epochs).
      if (seen !== null) await adoptEpoch(seen);
      else if (registry.current.slots.some((s) => s.state !== null)) await adoptEpoch(await store.ensureEpoch());
      return;
    }
    if (seen === known) return;
    await recover(seen === null ? 'the fleet epoch is gone' : 'the fleet epoch changed');
  }

  /** Start-up of one configured list. */
  async function startList(spec: ListSpec): Promise<void> {
    const started = performance.now();
    let current = await store.readCurrent(spec.name);
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
        const state = await takeOver(store, spec, current);
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
    const marker = await store.writeGeneration({ list: spec.name, kind: spec.kind, keys: new Float64Array(0), filter: filter.toBinary(), normaliserVersion: NORMALISER_VERSION, hashId: filter.hashId, fingerprint: old.fingerprint });
    let added = 0;
    if (spec.kind === 'deny') {
      const entries = await store.readIntraday(spec.name);
      const present = new Set(entries.map((e) => e.key));
      const missed = new Set<NumberKey>();
      for (const { key } of entries) {
        const m = missedReading(keyToE164(key));
        if (m !== null && !present.has(e164ToKey(m))) missed.add(e164ToKey(m));
      }
      if (missed.size > 0) await store.addIntraday(spec.name, [...missed], { who: 'normaliser-migration', revocable: false });
      added = missed.size;
    }
    await store.switchCurrent(spec.name, marker.generation);
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

  // Set by close(): a start() still running (SIGTERM during the initial load) must not open followers or
  // timers after it, which nothing would stop.
  let closed = false;
  /** No list configured: the sidecar serves every list current in Redis. */
  let discoverAll = false;

  function every(ms: number, what: string, fn: () => Promise<void>): void {
    if (closed) return;
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
    for (const name of await store.listNames()) {
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

  function listNames(): string[] {
    return registry.current.slots.map((s) => s.spec.name);
  }

  async function followIntraday(): Promise<void> {
    const fromId = await store.lastChangeId();
    lastAppliedId = fromId;
    for (const name of listNames()) await seedIntraday(name);
    if (closed) return;
    const stop = store.followChanges(
      fromId,
      (change) => {
        lastAppliedId = change.id;
        const at = Date.parse(change.at);
        // Every list's changes go to the copy, served here or not: a wipe must not lose any of them.
        overlayOf(change.list);
        copy?.change(change.op, change.list, change.keys, change.who, at).catch((err: unknown) => logger.error({ err }, 'writing a change to this sidecar\'s copy failed'));
        registry.slot(change.list)?.intraday.apply(change.op, change.keys, at);
      },
      {
        onError: (err) => logger.warn({ err }, 'following intraday changes: retrying'),
        onGap: () => {
          logger.warn('intraday changes were trimmed before this sidecar read them; reseeding from Redis');
          for (const name of listNames()) void seedIntraday(name).catch((err: unknown) => logger.error({ err }, 'reseeding intraday additions failed'));
        },
        // An entry we cannot read is a change we do not know: read every list's additions again, never skip it.
        onMalformed: (id, err) => {
          logger.error({ id, err }, 'an intraday change cannot be decoded; reseeding from Redis');
          for (const name of listNames()) void seedIntraday(name).catch((e: unknown) => logger.error({ err: e }, 'reseeding intraday additions failed'));
        },
      },
    );
    stoppers.push(stop);
  }

  return {
    mode: 'redis',
    remote: redisConfirmer(store),
    local: {
      refusal: (key, now) => copy?.refusal(key, now) ?? null,
      attempts: (key, since) => copy?.attempts(key, since) ?? { count: 0, oldest: null },
    },
    refresher,
    async start() {
      const stopRisk = store.watchRisk(applyRisk);
      stoppers.push(async () => stopRisk());
      applyRisk(store.risk());
      clockOffsetMs = (await store.now()) - Date.now();
      discoverAll = registry.current.slots.length === 0;
      const opened = await FleetCopy.open(options.journalPath ?? null, {
        prefix: store.prefix,
        keepAttemptsMs: options.keepAttemptsMs ?? DEFAULT_ATTEMPT_WINDOW_MS,
        now: Date.now() + clockOffsetMs,
        onError: (err) => logger.error({ err }, 'writing to this sidecar\'s copy failed'),
      });
      copy = opened.copy;
      if (options.journalPath) logger.info({ path: options.journalPath, skipped: opened.skipped, epoch: copy.epoch }, 'copy of the fleet\'s changes opened');
      const held = copy;
      store.expectEpoch(held.epoch);
      store.observeRuleWrites({ refusal: (key, at, until) => held.refusalRecorded(key, at, until), attempt: (key, at, member) => held.attemptRecorded(key, at, member) });
      // A copy that saw an epoch meeting none (or another): Redis lost its data since this sidecar last ran.
      const epochAtStart = await store.readEpoch();
      const wipedBeforeStart = held.epoch !== null && epochAtStart !== held.epoch;
      if (closed) return;
      const unsubscribe = await store.subscribe((event) => {
        // Only lists this sidecar serves (all of Redis's when none is configured).
        if (registry.slot(event.list) === undefined && registry.current.slots.length > 0 && !discoverAll) return;
        syncList(event.list).catch((err: unknown) => logger.warn({ list: event.list, err }, 'switch after notification failed; the poll retries'));
      });
      stoppers.push(unsubscribe);
      if (closed) {
        await unsubscribe().catch(() => undefined);
        return;
      }
      if (discoverAll) {
        await discover().catch((err: unknown) => logger.error({ err }, 'discovering the lists in Redis failed; the poll retries'));
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
      if (closed) return;
      await followIntraday();
      if (wipedBeforeStart) {
        void recover(epochAtStart === null ? 'the fleet epoch is gone (found at start)' : 'the fleet epoch changed (found at start)').catch((err: unknown) =>
          logger.error({ err }, 'recovery after a wipe failed; retried at the next poll'),
        );
      } else {
        await checkEpoch();
      }
      every(timings.pollMs, 'polling current generations', async () => {
        await checkEpoch();
        if (discoverAll) await discover();
        else for (const name of listNames()) await syncList(name);
        await copy?.maybeCompact(Date.now() + clockOffsetMs);
      });
      every(timings.heartbeatMs, 'heartbeat', async () => {
        const inUse = registry.current.slots.flatMap((s) => (s.state === null ? [] : [{ list: s.spec.name, generation: s.state.generation }]));
        await store.heartbeat(options.instanceId, inUse, timings.heartbeatMs * 3);
      });
      every(timings.gcEveryMs, 'collecting old generations', async () => {
        for (const name of listNames()) {
          const { deleted } = await store.collectGarbage(name, { graceMs: timings.gcGraceMs });
          if (deleted.length > 0) logger.info({ list: name, deleted }, 'old generations collected');
        }
      });
    },
    async change(op, list, keys, who): Promise<ChangeOutcome> {
      const slot = registry.slot(list);
      if (slot === undefined) return { ok: false, code: 'unknown_list', message: `no list named ${list}` };
      // Redis first (durable, and the stream carries it to every sidecar); then here at once.
      const revocable = slot.spec.kind === 'allow';
      const id = op === 'add' ? await store.addIntraday(list, keys, { who, revocable }) : await store.removeIntraday(list, keys, { who, revocable });
      const at = Date.now() + clockOffsetMs;
      overlayOf(list);
      slot.intraday.apply(op, keys, at);
      // This sidecar's copy too, before the acknowledgement: Redis may lose the change before others read it.
      await copy?.change(op, list, keys, who, at);
      return { ok: true, list, op, count: keys.length, at: new Date(at).toISOString(), id };
    },
    lastError: (list) => errors.get(list) ?? null,
    describe: () => ({ redis: { up: store.isUp() } }),
    async close() {
      closed = true;
      for (const t of timers) clearInterval(t);
      for (const stop of stoppers) await stop().catch(() => undefined);
      store.observeRuleWrites(null);
      await store.close();
      await copy?.close();
    },
  };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
