/**
 * Embedded mode: every list is read from its source into this process (filter + exact set),
 * refreshed on demand or on schedule by the refresher, and its intraday changes are journaled to a
 * local file so they survive a restart. Lists load one after another (two cores: parallel loads
 * would only compete) and each is installed as soon as it is built.
 */
import type { AlertRegistry } from '../supervision/alerts.js';
import { ExactSet } from '../lists/exact-set.js';
import { NumberFilter } from '../lists/bloom.js';
import { IntradayJournal } from './journal.js';
import { NewestChanges, type ChangeOutcome, type ListBackend } from './list-backend.js';
import { newGenerationId } from '../lists/generation.js';
import { ListRecordFile, recordPathOf, type InstalledLists } from '../refresh/install-record.js';
import type { ListSpec } from '../config/list-spec.js';
import type { ListRegistry, ListState } from '../lists/registry.js';
import type { Logger } from '../core/logger.js';
import { missedReading, NORMALISER_VERSION } from '../numbers/normalise.js';
import { e164ToKey, keyToE164, type NumberKey } from '../numbers/number-key.js';
import { ListRefresher, noLock, type GenerationSink } from '../refresh/refresh.js';

export interface EmbeddedBackendOptions {
  readonly registry: ListRegistry;
  readonly alerts: AlertRegistry;
  readonly logger: Logger;
  /** Journal of intraday changes; null keeps them in memory only (tests). */
  readonly journalPath: string | null;
  /** The durable record of installed lists (start-up's shrink baseline). @default beside the journal; none without one */
  readonly recordPath?: string | null;
  readonly now?: () => number;
}

/** A list fed only by intraday additions starts as an empty generation, which is a valid list. */
export function emptyState(spec: ListSpec, now: Date): ListState {
  return Object.freeze({
    spec,
    generation: newGenerationId(now.getTime()),
    filter: NumberFilter.create(1, spec.falsePositiveRate),
    members: Object.freeze({ where: 'memory' as const, set: ExactSet.EMPTY, terms: null }),
    count: 0,
    loadedAt: now,
    sourceDate: null,
    fingerprint: 'none',
    normaliserVersion: NORMALISER_VERSION,
  });
}

/** Keys plus the readings an older normaliser missed (numbers/normalise.ts missedReading). */
function withMissedReadings(keys: readonly NumberKey[]): readonly NumberKey[] {
  let out: NumberKey[] | null = null;
  for (const key of keys) {
    const m = missedReading(keyToE164(key));
    if (m !== null) (out ??= [...keys]).push(e164ToKey(m));
  }
  return out ?? keys;
}

export function createEmbeddedBackend(options: EmbeddedBackendOptions): ListBackend {
  const { registry, logger } = options;
  const now = options.now ?? Date.now;
  const errors = new Map<string, string>();
  let journal: IntradayJournal | null = null;
  /** The file each list was last loaded from (without a journal: this process's memory only). */
  const fingerprints = new Map<string, string>();

  const sink: GenerationSink = {
    lock: noLock,
    async publish({ spec, read, built, sourceDate }) {
      return Object.freeze({
        spec,
        generation: newGenerationId(now()),
        filter: built.filter,
        members: Object.freeze({ where: 'memory' as const, set: built.set, terms: read.terms }),
        count: built.set.size,
        loadedAt: new Date(now()),
        sourceDate,
        fingerprint: read.fingerprint,
        normaliserVersion: NORMALISER_VERSION,
      });
    },
    async installed({ spec, read, supersedesBefore }) {
      errors.delete(spec.name);
      // A restart reloading the same file keeps the day's additions; a different file supersedes those made before it.
      const previous = journal?.lastFingerprint(spec.name) ?? fingerprints.get(spec.name) ?? null;
      fingerprints.set(spec.name, read.fingerprint);
      if (previous === read.fingerprint) return;
      const dropped = registry.slot(spec.name)?.intraday.clearBefore(supersedesBefore) ?? 0;
      await journal?.replaced(spec.name, read.fingerprint, supersedesBefore);
      if (dropped > 0) logger.info({ list: spec.name, dropped }, 'intraday additions superseded by the new file');
    },
  };

  const recordPath = options.recordPath !== undefined ? options.recordPath : options.journalPath === null ? null : recordPathOf(options.journalPath);
  let record: ListRecordFile | null = null;
  // Opened in start(); until then (and without a path) nothing is recorded.
  const installed: InstalledLists = {
    async baseline(list) {
      const known = record === null ? ({ kind: 'none' } as const) : await record.baseline(list);
      // The journal records each file that replaced a list: one there with no count here means the count was lost.
      return known.kind === 'none' && (journal?.lastFingerprint(list) ?? null) !== null ? { kind: 'lost' } : known;
    },
    remember: async (list, entry) => record?.remember(list, entry),
  };
  const refresher = new ListRefresher({ registry, alerts: options.alerts, sink, logger, now, installed });

  return {
    mode: 'embedded',
    remote: null,
    refresher,
    async start() {
      if (recordPath !== null) record = await ListRecordFile.open(recordPath);
      if (options.journalPath !== null) {
        const opened = await IntradayJournal.open(options.journalPath);
        journal = opened.journal;
        let replayed = 0;
        for (const slot of registry.current.slots) {
          for (const change of journal.changes(slot.spec.name)) {
            // The journal keeps keys without the normaliser version that read them: a deny-list's
            // additions also list what the previous version missed (never allows; may block more).
            const keys = slot.spec.kind === 'deny' && change.op === 'add' ? withMissedReadings(change.keys) : change.keys;
            slot.intraday.apply(change.op, keys, change.at);
            replayed++;
          }
        }
        logger.info({ path: options.journalPath, replayed, skipped: opened.skipped }, 'intraday journal replayed');
      }
      for (const slot of registry.current.slots) {
        const spec = slot.spec;
        if (spec.source === null) {
          registry.install(emptyState(spec, new Date(now())));
          continue;
        }
        const outcome = await refresher.refresh(spec.name, { force: false, trigger: 'startup' });
        if (outcome.status !== 'loaded' && outcome.status !== 'unchanged') {
          errors.set(spec.name, outcome.message ?? outcome.status);
          logger.error({ list: spec.name, status: outcome.status, code: outcome.code }, 'list not loaded; checks answer not_ready until it loads');
        }
      }
    },
    async change(op, list, keys, who): Promise<ChangeOutcome> {
      const slot = registry.slot(list);
      if (slot === undefined) return { ok: false, code: 'unknown_list', message: `no list named ${list}` };
      const at = now();
      // Durable first: an acknowledged opt-out must survive a crash.
      await journal?.append({ op, list, keys, who, at });
      slot.intraday.apply(op, keys, at);
      return { ok: true, list, op, count: keys.length, at: new Date(at).toISOString() };
    },
    changesOf(key) {
      const newest = new NewestChanges();
      const entries = journal?.entries() ?? [];
      for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i] as (typeof entries)[number];
        if ((e.op === 'add' || e.op === 'remove') && e.keys.includes(key)) newest.offer({ list: e.list, op: e.op, at: e.at, who: e.who });
      }
      return Promise.resolve(newest.all);
    },
    lastError: (list) => errors.get(list) ?? null,
    describe: () => ({}),
    close: async () => {
      await journal?.close();
    },
  };
}
