/**
 * One refresh of one list: source → (unchanged? stop) → parse → build → guards → publish the new
 * generation → swap. The current generation keeps serving throughout, and stays when anything goes
 * wrong: a refused or failed refresh raises an alert and changes nothing (Kamailio htable's rule,
 * not FreeSWITCH's, which empties its lists first). Where the generation goes (memory, or Redis for a
 * fleet) is the sink's business.
 */
import type { AlertRegistry } from '../supervision/alerts.js';
import { CallgateError, ErrorCode, isCallgateError } from '../core/errors.js';
import { buildInWorker, type BuildOutcome, type BuildPaced } from './build-in-worker.js';
import type { BuiltGeneration } from '../lists/generation.js';
import type { BuildRequest } from './build-worker.js';
import type { ListReadResult } from './read.js';
import type { Baseline, InstalledLists } from './install-record.js';
import type { SourceValidators } from './source.js';
import { readsTerms, type ListSpec } from '../config/list-spec.js';
import type { ListRegistry, ListState } from '../lists/registry.js';
import type { Logger } from '../core/logger.js';
import { judgeForList, type RefusalCode } from './guards.js';

export type RefreshTrigger = 'startup' | 'schedule' | 'admin' | 'retry';
export type RefreshStatus = 'loaded' | 'unchanged' | 'refused' | 'failed' | 'busy';

export interface RefreshOutcome {
  readonly list: string;
  readonly status: RefreshStatus;
  readonly trigger: RefreshTrigger;
  readonly generation: string | null;
  readonly previousGeneration: string | null;
  readonly lines?: number;
  readonly numbers?: number;
  readonly unique?: number;
  readonly duplicates?: number;
  readonly badLines?: number;
  readonly badLineNumbers?: readonly number[];
  readonly sourceDate?: string | null;
  /** Guard refusals that --force overrode. */
  readonly overridden?: readonly RefusalCode[];
  /** Why it was refused, failed or busy (stable code: a guard code or a CALLGATE_ERR_* code). */
  readonly code?: string;
  readonly message?: string;
  /** busy: when the holder's refresh lock expires (ms from now), if known; a dead holder never releases it. */
  readonly retryInMs?: number;
  readonly durationMs: number;
}

/** A fleet-wide lock on one list's refresh (Redis); a no-op in embedded mode. */
export interface RefreshLock {
  /** Aborted when the lock is lost (it could not be renewed): the refresh must not switch. */
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

export interface GenerationSink {
  /** Takes the refresh lock of a list; null when another sidecar holds it. */
  lock(list: string): Promise<RefreshLock | null>;
  /** How long until the lock of a list expires (ms), null when nobody holds it or it cannot be read. */
  lockExpiresInMs?(list: string): Promise<number | null>;
  /** Publishes a built generation and returns the state to install. */
  publish(input: PublishInput): Promise<ListState>;
  /**
   * Called once the new state serves checks: only then may intraday additions that the new file
   * supersedes be dropped (dropping them earlier would leave the old generation without them).
   */
  installed(input: PublishInput, state: ListState): Promise<void>;
}

export interface PublishInput {
  readonly spec: ListSpec;
  readonly read: ListReadResult;
  readonly built: BuiltGeneration;
  readonly sourceDate: Date;
  readonly loadStartedAt: number;
  /**
   * Intraday additions made before this (ms, local clock) are superseded by the new file: the
   * earlier of its source date and the load's start. An opt-out recorded after the file was
   * exported cannot be in it, so it is kept.
   */
  readonly supersedesBefore: number;
  readonly signal: AbortSignal;
}

export interface RefresherOptions {
  readonly registry: ListRegistry;
  readonly alerts: AlertRegistry;
  readonly sink: GenerationSink;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Reads and builds a list off the main thread. @default buildInWorker */
  readonly build?: (request: BuildRequest, onPaced?: BuildPaced) => Promise<BuildOutcome>;
  /**
   * The durable record of each list's last installed generation: the shrink guard's baseline when
   * nothing is loaded yet (start-up), and the file a --force was given for. @default none (no baseline at start-up)
   */
  readonly installed?: InstalledLists;
}

/** Read errors that mean "this copy may be partial or hostile": refused (kept out), not merely failed. */
const REFUSED_READ_CODES: ReadonlySet<string> = new Set([ErrorCode.LIST_PARTIAL, ErrorCode.LIST_MANIFEST, ErrorCode.LIST_TOO_LARGE, ErrorCode.LIST_LINE_TOO_LONG]);

const NO_LOCK: RefreshLock = { signal: new AbortController().signal, release: async () => {} };
export const noLock = async (): Promise<RefreshLock> => NO_LOCK;

export class ListRefresher {
  readonly #o: RefresherOptions;
  readonly #now: () => number;
  readonly #validators = new Map<string, SourceValidators>();
  /** One refresh of a list at a time in this process. */
  readonly #running = new Map<string, Promise<RefreshOutcome>>();
  /**
   * The refresh that runs after the running one, by list and force: a request arriving mid-run may follow a new
   * file the running one read too early, so it is answered by a run that starts after it (shared with the other
   * requests of the same kind arriving meanwhile), never by the running one's outcome.
   */
  readonly #next = new Map<string, Promise<RefreshOutcome>>();
  readonly #last = new Map<string, { outcome: RefreshOutcome | null; lastSuccess: number | null }>();

  readonly #build: (request: BuildRequest, onPaced?: BuildPaced) => Promise<BuildOutcome>;

  constructor(options: RefresherOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#build = options.build ?? buildInWorker;
  }

  refresh(name: string, options: { force: boolean; trigger: RefreshTrigger }): Promise<RefreshOutcome> {
    const running = this.#running.get(name);
    if (running) {
      const id = `${name}\u0000${String(options.force)}`;
      let next = this.#next.get(id);
      if (next === undefined) {
        next = running
          .catch(() => undefined)
          .then(() => {
            this.#next.delete(id);
            return this.refresh(name, options);
          });
        this.#next.set(id, next);
      }
      return next;
    }
    const run = this.#run(name, options)
      .then((outcome) => {
        const ok = outcome.status === 'loaded' || outcome.status === 'unchanged';
        this.#last.set(name, { outcome, lastSuccess: ok ? this.#now() : (this.#last.get(name)?.lastSuccess ?? null) });
        return outcome;
      })
      .finally(() => this.#running.delete(name));
    this.#running.set(name, run);
    return run;
  }

  /** The last outcome of a list's refresh, and when one last succeeded (for metrics). */
  last(name: string): { outcome: RefreshOutcome | null; lastSuccess: number | null } {
    return this.#last.get(name) ?? { outcome: null, lastSuccess: null };
  }

  /** Forgets the source validators of a list, so the next refresh reads it even if unchanged. */
  forget(name: string): void {
    this.#validators.delete(name);
  }

  async #run(name: string, { force, trigger }: { force: boolean; trigger: RefreshTrigger }): Promise<RefreshOutcome> {
    const started = this.#now();
    const slot = this.#o.registry.slot(name);
    const log = this.#o.logger.child({ list: name, trigger });
    const base = { list: name, trigger, previousGeneration: slot?.state?.generation ?? null };
    const done = (o: Omit<RefreshOutcome, 'list' | 'trigger' | 'previousGeneration' | 'durationMs'>): RefreshOutcome => ({ ...base, ...o, durationMs: this.#now() - started });
    if (slot === undefined) {
      return done({ status: 'failed', generation: null, code: 'unknown_list', message: `no list named ${name}` });
    }
    const spec = slot.spec;
    if (spec.source === null) {
      return done({ status: 'unchanged', generation: slot.state?.generation ?? null, message: 'this list has no source; it changes through list add/remove only' });
    }
    const lock = await this.#o.sink.lock(name);
    if (lock === null) {
      const retryInMs = (await this.#o.sink.lockExpiresInMs?.(name).catch(() => null)) ?? null;
      log.info({ retryInMs }, 'refresh skipped: another sidecar holds the refresh lock of this list');
      return done({
        status: 'busy',
        generation: slot.state?.generation ?? null,
        code: 'busy',
        message: `another process holds the refresh lock of this list${retryInMs === null ? '' : ` (it expires in ${retryInMs} ms)`}; its result is switched to when it is done`,
        ...(retryInMs === null ? {} : { retryInMs }),
      });
    }
    try {
      const current = slot.state;
      // Without a current generation, read the source even if it looks unchanged.
      const previous = current === null ? null : (this.#validators.get(name) ?? null);
      // Reading, parsing, sorting and filter building run in a worker thread: checks never stall.
      const loaded = await this.#build({
        source: spec.source,
        previous,
        falsePositiveRate: spec.falsePositiveRate,
        expectedNumbers: current?.count,
        terms: readsTerms(spec),
        kind: spec.kind,
        settleMs: spec.refresh.settleMs,
        maxListBytes: spec.refresh.maxListBytes,
        maxLineChars: spec.refresh.maxLineChars,
        // Paced by the checks' latency while checks are answered (refresh/worker-pace.ts); full speed without.
        pacing: spec.refresh.pacing,
      }, (pacing) => log.info({ pacing }, 'list build paced'));
      if (loaded.kind === 'unchanged') {
        this.#validators.set(name, loaded.validators);
        this.#clearRefreshAlerts(name);
        log.info({ generation: current?.generation }, 'list unchanged at its source');
        return done({ status: 'unchanged', generation: current?.generation ?? null });
      }
      const { read, built } = loaded;
      // On this refresher's clock (injectable), not the worker's.
      const fetchedAt = this.#now();
      // The list's age counts from the source's own date; a source with none is dated when fetched.
      const sourceDate = loaded.sourceDate !== null && loaded.sourceDate.getTime() <= fetchedAt ? loaded.sourceDate : new Date(fetchedAt);
      const counts = { lines: read.lines, numbers: read.numbers, badLines: read.badLines, badLineNumbers: read.badLineNumbers, sourceDate: sourceDate.toISOString() };
      if (current !== null && read.fingerprint === current.fingerprint && (current.sourceDate?.getTime() ?? 0) >= sourceDate.getTime()) {
        this.#validators.set(name, loaded.validators);
        this.#clearRefreshAlerts(name);
        log.info({ generation: current.generation }, 'list content unchanged');
        return done({ status: 'unchanged', generation: current.generation, ...counts });
      }
      if (built === null) return this.#refuse(log, done, name, 'empty', `the new list has no valid number (${read.lines} lines, ${read.badLines} bad)`, counts, current);
      // Nothing in memory (start-up): the durable record of the last installed generation is the baseline.
      const record: Baseline = (await this.#o.installed?.baseline(name)) ?? { kind: 'none' };
      if (current === null && record.kind === 'unreadable' && !force) {
        return this.#refuse(log, done, name, 'baseline_unreadable', `the record of the last installed lists is unreadable (${record.why}), so the shrink guard cannot be applied; fix or remove it, or refresh with --force`, { ...counts, unique: built.set.size }, current);
      }
      const baseline = current !== null ? { count: current.count } : record.kind === 'known' ? { count: record.list.count } : null;
      // A --force is remembered for the exact file it was given for (its fingerprint), never for another.
      const forcedBefore = record.kind === 'known' && record.list.forcedFingerprint === read.fingerprint;
      const judgement = judgeForList(spec.refresh, { numbers: built.set.size, lines: read.lines, badLines: read.badLines }, baseline, force || forcedBefore);
      if (!judgement.ok) return this.#refuse(log, done, name, judgement.code, judgement.message, { ...counts, unique: built.set.size }, current);
      if (lock.signal.aborted) throw new CallgateError(ErrorCode.REDIS, 'the refresh lock was lost before the switch; another sidecar may be refreshing');
      const input: PublishInput = { spec, read, built, sourceDate, loadStartedAt: started, supersedesBefore: Math.min(started, sourceDate.getTime()), signal: lock.signal };
      const state = await this.#o.sink.publish(input);
      // Durable before it serves: a restart must compare with this count (a failed write fails the refresh).
      await this.#o.installed?.remember(name, {
        count: built.set.size,
        fingerprint: read.fingerprint,
        forcedFingerprint: judgement.overridden.length > 0 ? read.fingerprint : null,
        installedAt: new Date(this.#now()).toISOString(),
      });
      this.#noteBaseline(name, baseline === null && record.kind === 'lost');
      this.#o.registry.install(state);
      await this.#o.sink.installed(input, state);
      this.#validators.set(name, loaded.validators);
      this.#clearRefreshAlerts(name);
      const outcome = done({
        status: 'loaded',
        generation: state.generation,
        ...counts,
        unique: built.set.size,
        duplicates: built.duplicates,
        ...(judgement.overridden.length > 0 ? { overridden: judgement.overridden } : {}),
      });
      log.info({ ...outcome }, 'list refreshed');
      if (judgement.overridden.length > 0) log.warn({ overridden: judgement.overridden, remembered: !force && forcedBefore }, 'refresh guards overridden by --force');
      return outcome;
    } catch (err) {
      const code = isCallgateError(err) ? err.code : 'internal';
      const message = err instanceof Error ? err.message : String(err);
      if (isCallgateError(err) && REFUSED_READ_CODES.has(err.code)) return this.#refuse(log, done, name, err.code, message, {}, slot.state);
      this.#o.alerts.raise({ id: `refresh_failed:${name}`, kind: 'refresh_failed', severity: 'critical', list: name, message: `refresh of ${name} failed: ${message}; the current generation keeps serving`, details: { code } });
      log.error({ err }, 'refresh failed; the current generation keeps serving');
      return done({ status: 'failed', generation: slot.state?.generation ?? null, code, message });
    } finally {
      await lock.release().catch((err: unknown) => log.warn({ err }, 'refresh lock release failed'));
    }
  }

  #refuse(
    log: Logger,
    done: (o: Omit<RefreshOutcome, 'list' | 'trigger' | 'previousGeneration' | 'durationMs'>) => RefreshOutcome,
    name: string,
    code: RefusalCode | 'baseline_unreadable' | ErrorCode,
    message: string,
    counts: Partial<RefreshOutcome>,
    current: ListState | null,
  ): RefreshOutcome {
    this.#o.alerts.raise({
      id: `refresh_refused:${name}`,
      kind: 'refresh_refused',
      severity: 'critical',
      list: name,
      message: `refresh of ${name} refused (${code}): ${message}; ${current === null ? 'the list is not loaded' : 'the current generation keeps serving'}`,
      details: { code, lines: counts.lines, numbers: counts.numbers, badLines: counts.badLines },
    });
    log.error({ code, ...counts }, 'refresh refused; the current generation keeps serving');
    return done({ status: 'refused', generation: current?.generation ?? null, code, message, ...counts });
  }

  /**
   * A list installed at start-up although its last installed count was lost (the record deleted, Redis
   * wiped): accepted, since nothing says it is partial (it ended with a newline, stayed still, matched
   * its manifest if any), but the shrink guard could not run, so an operator should look at its count.
   */
  #noteBaseline(name: string, missing: boolean): void {
    if (!missing) {
      this.#o.alerts.clear(`list_baseline_missing:${name}`);
      return;
    }
    this.#o.alerts.raise({
      id: `list_baseline_missing:${name}`,
      kind: 'list_baseline_missing',
      severity: 'warning',
      list: name,
      message: `${name} was installed but the record of its last installed count was lost: the shrink guard could not be applied; check its count`,
    });
  }

  #clearRefreshAlerts(name: string): void {
    this.#o.alerts.clear(`refresh_refused:${name}`);
    this.#o.alerts.clear(`refresh_failed:${name}`);
  }
}
