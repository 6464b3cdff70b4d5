/**
 * Redis mode: this sidecar's durable copy of what the fleet must never forget, so that a Redis that loses
 * its data (restart without persistence, FLUSHALL) loses no opt-out. Kept in the journal (backends/journal.ts):
 * - every intraday change of every list, as followed on the change stream (and this sidecar's own at once);
 * - the refusals and counted attempts this sidecar recorded (they are not on the stream);
 * - the fleet epoch last seen, with the key prefix it belongs to.
 * The copy counts as listed on its own (check/deny-lists.ts, rules/facts-redis.ts): a number it holds blocks even when
 * Redis answers "absent". After a wipe it is re-published (backends/wipe-recovery.ts). The blocking side wins when
 * copies disagree: a revocation or refusal known here is kept, attempt counts take the larger.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import { IntradayAdditions } from '../lists/intraday.js';
import { IntradayJournal, type JournalEntry } from './journal.js';
import type { NumberKey } from '../numbers/number-key.js';

/** What the rules check reads from a sidecar's own copy, on top of Redis's answer. */
export interface LocalRuleFacts {
  /** A refusal this sidecar recorded that still runs at `now`, or null. */
  refusal(key: NumberKey, now: number): { readonly at: number; readonly until: number } | null;
  /** Attempts this sidecar counted after `sinceMs`, and the oldest of them. */
  attempts(key: NumberKey, sinceMs: number): { readonly count: number; readonly oldest: number | null };
}

type ListEntry = Extract<JournalEntry, { op: 'add' | 'remove' | 'supersede' }>;
interface Attempt {
  readonly at: number;
  readonly member: string;
}

/** Appended records after which the file is rewritten from the folded state (plus this many per held item). */
const COMPACT_AFTER = 10_000;

export class FleetCopy implements LocalRuleFacts {
  readonly #journal: IntradayJournal | null;
  readonly #prefix: string;
  /** Per list: its changes as read from disk, until the list's overlay takes them (replayInto). */
  readonly #lists = new Map<string, ListEntry[]>();
  /** Lists whose overlay holds the copy: the overlay is then the live state. */
  readonly #overlays = new Map<string, IntradayAdditions>();
  readonly #refusals = new Map<NumberKey, { at: number; until: number }>();
  readonly #attempts = new Map<NumberKey, Attempt[]>();
  #epoch: string | null = null;
  readonly #keepAttemptsMs: number;
  readonly #onError: (err: unknown) => void;

  private constructor(journal: IntradayJournal | null, prefix: string, keepAttemptsMs: number, onError: (err: unknown) => void) {
    this.#journal = journal;
    this.#prefix = prefix;
    this.#keepAttemptsMs = keepAttemptsMs;
    this.#onError = onError;
  }

  /**
   * Opens the copy at `path` (null: memory only, lost with the process). A copy last bound to another key
   * prefix belongs to another fleet: refused (CALLGATE_ERR_CONFIG), rather than re-publishing its opt-outs here.
   */
  static async open(
    path: string | null,
    options: { readonly prefix: string; readonly keepAttemptsMs: number; readonly now: number; readonly onError: (err: unknown) => void },
  ): Promise<{ copy: FleetCopy; skipped: number }> {
    const opened = path === null ? null : await IntradayJournal.open(path);
    const copy = new FleetCopy(opened?.journal ?? null, options.prefix, options.keepAttemptsMs, options.onError);
    for (const e of opened?.entries ?? []) copy.#fold(e);
    if (copy.#boundPrefix !== null && copy.#boundPrefix !== options.prefix) {
      await opened?.journal.close();
      throw new CallgateError(
        ErrorCode.CONFIG,
        `journal ${String(path)} holds the copy of the fleet under Redis prefix ${JSON.stringify(copy.#boundPrefix)}, not ${JSON.stringify(options.prefix)}: give this sidecar its own --journal`,
      );
    }
    await copy.compact(options.now);
    return { copy, skipped: opened?.skipped ?? 0 };
  }

  #boundPrefix: string | null = null;

  #fold(e: JournalEntry): void {
    switch (e.op) {
      case 'add':
      case 'remove':
      case 'supersede': {
        const overlay = this.#overlays.get(e.list);
        if (overlay !== undefined) applyTo(overlay, e);
        else {
          let list = this.#lists.get(e.list);
          if (list === undefined) this.#lists.set(e.list, (list = []));
          list.push(e);
        }
        return;
      }
      case 'refusal': {
        const r = this.#refusals.get(e.key);
        if (r === undefined || e.until > r.until) this.#refusals.set(e.key, { at: e.at, until: e.until });
        return;
      }
      case 'attempt': {
        const held = this.#attempts.get(e.key);
        if (held === undefined) this.#attempts.set(e.key, [{ at: e.at, member: e.member }]);
        else if (!held.some((a) => a.member === e.member)) held.push({ at: e.at, member: e.member });
        return;
      }
      case 'epoch':
        this.#epoch = e.epoch;
        this.#boundPrefix = e.prefix;
        return;
      case 'generation':
        return;
    }
  }

  #record(e: JournalEntry): Promise<void> {
    this.#fold(e);
    return this.#journal === null ? Promise.resolve() : this.#journal.append(e);
  }

  /** As #record, for the refusals and attempts nobody waits on: they share flushes (journal.ts appendSoon). */
  #recordSoon(e: JournalEntry): Promise<void> {
    this.#fold(e);
    return this.#journal === null ? Promise.resolve() : this.#journal.appendSoon(e);
  }

  /** The fleet epoch this sidecar last saw; null when it never saw one (a new sidecar, or a new copy). */
  get epoch(): string | null {
    return this.#epoch;
  }

  /** True when the copy says the fleet held data (it saw an epoch, written with the first generation). */
  get sawData(): boolean {
    return this.#epoch !== null;
  }

  setEpoch(epoch: string, now: number): Promise<void> {
    if (epoch === this.#epoch) return Promise.resolve();
    return this.#record({ op: 'epoch', epoch, prefix: this.#prefix, at: now });
  }

  /**
   * Hands the list's copy to its overlay (once; later changes go to both): the overlay becomes the live copy.
   * Returns how many changes were replayed.
   */
  replayInto(list: string, overlay: IntradayAdditions): number {
    if (this.#overlays.get(list) === overlay) return 0;
    const held = this.#lists.get(list) ?? [];
    for (const e of held) applyTo(overlay, e);
    this.#lists.delete(list);
    this.#overlays.set(list, overlay);
    return held.length;
  }

  /** Records a change (followed on the stream, or made here); durable when it resolves. */
  change(op: 'add' | 'remove', list: string, keys: readonly NumberKey[], who: string, at: number): Promise<void> {
    return this.#record({ op, list, keys, who, at });
  }

  /** Records that a newer file superseded the list's additions made before `at`. */
  supersede(list: string, at: number): Promise<void> {
    return this.#record({ op: 'supersede', list, at });
  }

  /** For the Redis parts' RuleWriteObserver (redis/consumer-history.ts): a refusal or an attempt, recorded in the background (errors reported). */
  refusalRecorded(key: NumberKey, at: number, until: number): void {
    this.#recordSoon({ op: 'refusal', key, at, until }).catch(this.#onError);
  }

  attemptRecorded(key: NumberKey, at: number, member: string): void {
    this.#recordSoon({ op: 'attempt', key, at, member }).catch(this.#onError);
  }

  refusal(key: NumberKey, now: number): { at: number; until: number } | null {
    const r = this.#refusals.get(key);
    return r !== undefined && r.until > now ? r : null;
  }

  attempts(key: NumberKey, sinceMs: number): { count: number; oldest: number | null } {
    let count = 0;
    let oldest: number | null = null;
    for (const a of this.#attempts.get(key) ?? []) {
      if (a.at <= sinceMs) continue;
      count++;
      if (oldest === null || a.at < oldest) oldest = a.at;
    }
    return { count, oldest };
  }

  /** Refusals still running at `now`, to re-publish. */
  runningRefusals(now: number): Array<[NumberKey, { at: number; until: number }]> {
    return [...this.#refusals].filter(([, r]) => r.until > now);
  }

  /** Attempts within the kept window, to re-publish. */
  recentAttempts(now: number): Array<[NumberKey, readonly Attempt[]]> {
    const since = now - this.#keepAttemptsMs;
    const out: Array<[NumberKey, readonly Attempt[]]> = [];
    for (const [key, held] of this.#attempts) {
      const recent = held.filter((a) => a.at > since);
      if (recent.length > 0) out.push([key, recent]);
    }
    return out;
  }

  /** Rewrites the journal from the folded state when enough was appended since the last rewrite. */
  async maybeCompact(now: number): Promise<void> {
    const j = this.#journal;
    if (j === null) return;
    if (j.appendedSinceRewrite < COMPACT_AFTER + j.entries().length / 2) return;
    await this.compact(now);
  }

  /** Rewrites the journal as the folded state: ended refusals and attempts out of the window are dropped. */
  async compact(now: number): Promise<void> {
    // Forget what no longer counts, in memory too: bounded by the live refusals and the attempt window.
    for (const [key, r] of this.#refusals) if (r.until <= now) this.#refusals.delete(key);
    const since = now - this.#keepAttemptsMs;
    for (const [key, held] of this.#attempts) {
      const recent = held.filter((a) => a.at > since);
      if (recent.length === 0) this.#attempts.delete(key);
      else this.#attempts.set(key, recent);
    }
    if (this.#journal === null) return;
    const out: JournalEntry[] = [];
    if (this.#epoch !== null) out.push({ op: 'epoch', epoch: this.#epoch, prefix: this.#prefix, at: now });
    // Lists this sidecar does not serve are folded too (as revocable: a removal kept as a revocation is harmless
    // on a deny-list, whose removals only withdraw additions), so the file stays bounded by what is held.
    const folded = new Map(this.#overlays);
    for (const [list, held] of this.#lists) {
      const overlay = new IntradayAdditions(true);
      for (const e of held) applyTo(overlay, e);
      folded.set(list, overlay);
    }
    for (const [list, overlay] of folded) {
      const folded: JournalEntry[] = [];
      for (const [key, at] of overlay.entries()) folded.push({ op: 'add', list, keys: [key], who: 'copy', at });
      for (const [key, at] of overlay.revocations()) folded.push({ op: 'remove', list, keys: [key], who: 'copy', at });
      // In time order: replaying a grant then a later revocation ends revoked, as it was.
      out.push(...folded.sort((a, b) => a.at - b.at));
    }
    for (const [key, r] of this.#refusals) out.push({ op: 'refusal', key, at: r.at, until: r.until });
    for (const [key, held] of this.#attempts) for (const a of held) out.push({ op: 'attempt', key, at: a.at, member: a.member });
    await this.#journal.rewrite(out);
  }

  async close(): Promise<void> {
    await this.#journal?.close();
  }
}

function applyTo(overlay: IntradayAdditions, e: ListEntry): void {
  if (e.op === 'supersede') overlay.clearBefore(e.at);
  else overlay.apply(e.op, e.keys, e.at);
}
