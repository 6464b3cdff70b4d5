/**
 * Redis mode's intraday changes on this sidecar: follows the fleet's change stream from its last entry
 * (replaying after a reconnect, reseeding after a gap or an entry it cannot decode), writes every change to
 * this sidecar's durable copy, and merges Redis's intraday state of a list with that copy after a switch,
 * a gap or a wipe — re-publishing what Redis lost. Kept apart from the generation switches: these are the
 * opt-outs and revocations made between two files.
 */
import type { ListSlot, ListState } from '../lists/registry.js';
import { compareStreamIds } from '../redis/codecs.js';
import { listNames, RESTORE_WHO, type RedisBackendContext } from './redis-context.js';

export interface IntradaySync {
  /** The list's slot, its overlay holding this sidecar's copy of the list. */
  overlayOf(list: string): ListSlot | undefined;
  seedIntraday(list: string, force?: boolean): Promise<void>;
  /** Seeds every served list, then follows the change stream until close(). */
  followIntraday(): Promise<void>;
}

export function createIntradaySync(ctx: RedisBackendContext): IntradaySync {
  const { registry, store, logger, stoppers } = ctx;

  /** The list's slot, its overlay holding this sidecar's copy of the list. */
  function overlayOf(list: string): ListSlot | undefined {
    const slot = registry.slot(list);
    if (slot !== undefined) ctx.copy?.replayInto(list, slot.intraday);
    return slot;
  }

  /** Before this (ms, Redis clock), a list's additions are superseded by its current file generation; -Infinity: none are. */
  async function supersededBefore(list: string, state: ListState | null): Promise<number> {
    if (state === null || state.sourceDate === null) return Number.NEGATIVE_INFINITY;
    const registered = await store.generations.generationStartedAt(list, state.generation);
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
    const upTo = await store.changes.lastChangeId();
    const entries = await store.intraday.readIntraday(list);
    const revocable = slot.spec.kind === 'allow';
    const revoked = revocable ? await store.intraday.revocations(list) : new Map<number, number>();
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
    if (superseded > 0) await ctx.copy?.supersede(list, cutoff);
    for (const e of entries) slot.intraday.add(e.key, e.at);
    for (const [key, at] of revoked) slot.intraday.revoke(key, at);
    const missingRevocations = revocable ? [...slot.intraday.revocations()].filter(([key, at]) => (revoked.get(key) ?? -1) < at).map(([key]) => key) : [];
    if (missing.length + missingRevocations.length === 0) return;
    if (!force && compareStreamIds(ctx.lastAppliedId, upTo) < 0) return;
    if (missing.length > 0) await store.intraday.addIntraday(list, missing, { who: RESTORE_WHO });
    if (missingRevocations.length > 0) await store.intraday.removeIntraday(list, missingRevocations, { who: RESTORE_WHO, revocable: true });
    logger.warn({ list, additions: missing.length, revocations: missingRevocations.length }, 're-published intraday changes that Redis had lost, from this sidecar\'s copy');
  }

  async function followIntraday(): Promise<void> {
    const fromId = await store.changes.lastChangeId();
    ctx.lastAppliedId = fromId;
    for (const name of listNames(ctx)) await seedIntraday(name);
    if (ctx.closed) return;
    const stop = store.changes.followChanges(
      fromId,
      (change) => {
        ctx.lastAppliedId = change.id;
        const at = Date.parse(change.at);
        // Every list's changes go to the copy, served here or not: a wipe must not lose any of them.
        overlayOf(change.list);
        ctx.copy?.change(change.op, change.list, change.keys, change.who, at).catch((err: unknown) => logger.error({ err }, 'writing a change to this sidecar\'s copy failed'));
        registry.slot(change.list)?.intraday.apply(change.op, change.keys, at);
      },
      {
        onError: (err) => logger.warn({ err }, 'following intraday changes: retrying'),
        onGap: () => {
          logger.warn('intraday changes were trimmed before this sidecar read them; reseeding from Redis');
          for (const name of listNames(ctx)) void seedIntraday(name).catch((err: unknown) => logger.error({ err }, 'reseeding intraday additions failed'));
        },
        // An entry we cannot read is a change we do not know: read every list's additions again, never skip it.
        onMalformed: (id, err) => {
          logger.error({ id, err }, 'an intraday change cannot be decoded; reseeding from Redis');
          for (const name of listNames(ctx)) void seedIntraday(name).catch((e: unknown) => logger.error({ err: e }, 'reseeding intraday additions failed'));
        },
      },
    );
    stoppers.push(stop);
  }

  return { overlayOf, seedIntraday, followIntraday };
}
