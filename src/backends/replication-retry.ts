/**
 * Redis mode: the writes that matter which Redis acknowledged but no replica was seen to hold within the wait
 * (redis/durability.ts), re-published until one does. A fail-over may promote a replica that lacks them; this
 * sidecar's durable copy (backends/fleet-copy.ts) already blocks them here, and re-publishing them on whatever
 * master then answers brings them back for the whole fleet — including sidecars started after the promotion.
 *
 * Only writes that block more are re-published: a deny-list addition, an allow-list revocation, a refusal, a
 * counted attempt. Re-publishing is idempotent (an addition or revocation again; a refusal never shortens a running
 * one; an attempt under its own member counts once). A later change of the same number on the same list drops
 * the pending one (the newer write wins, as it would have on Redis). Memory is bounded: past MAX_PENDING numbers
 * new ones are not queued (they stay blocked here by the copy; an error is logged and the alert turns critical).
 * Writes not queued are cleared from the alert only when a later WAIT proves them replicated: a round on the same
 * connection span as the write (redis/durability.ts: the replication stream is ordered, so a WAIT covering a later
 * marker covers them). Once a connection dropped after one of them, Redis may have lost it and nothing here can
 * re-publish it: the alert stays critical until this sidecar restarts (docs/redis-topology.md).
 * Pending writes live in memory: a sidecar restarted before they are re-published keeps blocking them from its
 * copy, but no longer re-publishes them (docs/redis-mode.md says which writes can still be lost).
 * One pass at a time, and each of its Redis calls has a deadline: a pass can never hold the next ones off for longer
 * than its steps' deadlines (a hung socket holds a command for as long as it hangs). A step is one script call (at
 * most INTRADAY_CHUNK numbers), marked sent when it lands, so a large re-publish on a slow Redis progresses pass after
 * pass. A step past its deadline goes on, so at most MAX_LATE_STEPS of them may still run: while that many do, polls
 * start no pass, whose writes would only queue behind theirs on the same connection and pile the same work again
 * onto a slow Redis. A poll that
 * finds Redis down says once that the writes wait for it; the pass starts again when a connection is ready
 * (backends/redis.ts).
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { NumberKey } from '../numbers/number-key.js';
import type { UnreplicatedWrite } from '../redis/consumer-history.js';
import { INTRADAY_CHUNK } from '../redis/intraday.js';
import type { WriteMark } from '../redis/durability.js';
import type { RedisBackendContext } from './redis-context.js';

/** Numbers held for re-publishing at most (changes + refusals + attempts). */
export const MAX_PENDING = 100_000;

type PendingChange = { readonly op: 'add' | 'remove'; readonly revocable: boolean; readonly who: string; sentAt: number };
type PendingRuleWrite = { readonly write: UnreplicatedWrite; sentAt: number };

/** Steps past their deadline still running, at most (see the header): then no pass starts until one settles. */
export const MAX_LATE_STEPS = 2;

/** sentAt before any publishing: the first pass re-publishes (once: harmless if the master already holds it). */
const NEVER = -1;

export interface ReplicationRetryOptions {
  /**
   * Deadline of each Redis call of a pass (a write, or the WAIT rounds); past it the pass fails, is logged, and the
   * next poll tries again. @default hungSocketMs + two WAIT rounds (each waitTimeoutMs + 1 s, redis/durability.ts)
   */
  readonly stepTimeoutMs?: number | undefined;
}

export interface ReplicationRetry {
  /** A list change that was not seen on a replica; kept only when it blocks more. */
  changeUnreplicated(op: 'add' | 'remove', list: string, keys: readonly NumberKey[], who: string, revocable: boolean, mark: WriteMark): void;
  /** A later change of these numbers on this list supersedes any pending one. */
  superseded(list: string, keys: readonly NumberKey[]): void;
  /** A refusal or attempt that was not seen on a replica. */
  ruleWriteUnreplicated(write: UnreplicatedWrite, mark: WriteMark): void;
  /** Numbers waiting to be re-published. */
  pending(): number;
  /** One pass: re-publishes everything pending, then one WAIT; what a replica then holds is dropped. Never rejects. */
  retry(): Promise<void>;
}

export function createReplicationRetry(ctx: RedisBackendContext, options: ReplicationRetryOptions = {}): ReplicationRetry {
  const { store, logger, alerts } = ctx;
  const stepTimeoutMs = options.stepTimeoutMs ?? store.connection.hungSocketMs + 2 * (store.durability.timeoutMs + 1000);
  /** Set once a poll told that Redis is down with writes pending; cleared when a pass runs. */
  let toldDown = false;
  /** Steps that missed their deadline and have not settled yet; set once a poll told that passes wait for them. */
  let late = 0;
  let toldLate = false;
  /** list → number → the change to re-publish. */
  const changes = new Map<string, Map<NumberKey, PendingChange>>();
  const ruleWrites = new Map<string, PendingRuleWrite>();
  let count = 0;
  let running = false;
  /** Writes not queued (over MAX_PENDING), by the connection span (WriteMark.drops) they were written in. */
  const overflowed = new Map<number, number>();
  const overflowCount = (): number => {
    let n = 0;
    for (const v of overflowed.values()) n += v;
    return n;
  };

  const raise = (): void => {
    const lost = overflowCount();
    if (count === 0 && lost === 0) {
      alerts.clear('redis_unreplicated');
      return;
    }
    alerts.raise({
      id: 'redis_unreplicated',
      kind: 'redis_unreplicated',
      severity: lost > 0 ? 'critical' : 'warning',
      message:
        `${count} opt-outs, revocations, refusals or attempts were acknowledged by Redis but not seen on ${store.durability.replicas} replica(s): ` +
        'this sidecar blocks them from its copy and re-publishes them until a replica holds them' +
        (lost > 0 ? `; ${lost} more could not be queued (kept blocked here only; if Redis lost them they stay lost for the other sidecars until recorded again)` : ''),
      details: { pending: count, overflowed: lost, replicas: store.durability.replicas },
    });
  };

  const room = (n: number, mark: WriteMark): boolean => {
    if (count + n <= MAX_PENDING) return true;
    overflowed.set(mark.drops, (overflowed.get(mark.drops) ?? 0) + n);
    logger.error({ pending: count, dropped: n }, 'too many writes waiting for a replica: not queued for re-publishing (this sidecar\'s copy still blocks them)');
    raise();
    return false;
  };

  /** `step` settled, or a CALLGATE_ERR_REDIS rejection once stepTimeoutMs passed (the call may still land: re-publishing is idempotent). */
  const bounded = <T>(step: Promise<T>, doing: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Counted until it settles: later passes wait for it once MAX_LATE_STEPS are running.
        late++;
        const settled = (): void => void late--;
        step.then(settled, settled);
        reject(new CallgateError(ErrorCode.REDIS, `no answer from Redis ${doing} within ${stepTimeoutMs} ms`));
      }, stepTimeoutMs);
    });
    return Promise.race([step, deadline]).finally(() => clearTimeout(timer));
  };

  const retry = async (): Promise<void> => {
    // Nothing pending and no unqueued write this span's WAIT could cover (older spans' can no longer be proven).
    if (running || (count === 0 && !overflowed.has(store.durability.mark().drops))) return;
    if (late >= MAX_LATE_STEPS) {
      if (!toldLate) logger.warn({ pending: count, late }, 're-publishing waits: Redis calls of earlier passes, past their deadline, are still running');
      toldLate = true;
      return;
    }
    toldLate = false;
    if (!store.connection.isUp()) {
      if (!toldDown) logger.warn({ pending: count }, 'Redis is down: writes a replica lacked wait for it to be re-published (at once when a connection is ready again)');
      toldDown = true;
      return;
    }
    toldDown = false;
    running = true;
    try {
      // Re-published once per connection span (connection.drops): while no connection dropped, the master that took
      // them is still the one answering, and only the WAIT is repeated (no duplicate stream entries every poll).
      const mark = store.durability.mark();
      const sentChanges: Array<[string, NumberKey, PendingChange]> = [];
      for (const [list, held] of changes) {
        // Grouped by op and who: one script call per group, as the change was first made.
        const groups = new Map<string, { change: PendingChange; keys: NumberKey[] }>();
        for (const [key, change] of held) {
          sentChanges.push([list, key, change]);
          if (change.sentAt === mark.drops) continue;
          const id = `${change.op}\u0000${change.who}\u0000${String(change.revocable)}`;
          let g = groups.get(id);
          if (g === undefined) groups.set(id, (g = { change, keys: [] }));
          g.keys.push(key);
        }
        for (const { change, keys: all } of groups.values()) {
          const meta = { who: change.who, revocable: change.revocable };
          // One script call per step (INTRADAY_CHUNK numbers), each under its own deadline and marked sent when it
          // lands: a large group on a slow Redis makes progress pass after pass instead of failing whole every time.
          for (let i = 0; i < all.length; i += INTRADAY_CHUNK) {
            const keys = all.slice(i, i + INTRADAY_CHUNK);
            if (change.op === 'add') await bounded(store.intraday.addIntraday(list, keys, meta), `re-publishing additions to ${list}`);
            else await bounded(store.intraday.removeIntraday(list, keys, meta), `re-publishing removals from ${list}`);
            for (const key of keys) {
              const c = held.get(key);
              if (c !== undefined) c.sentAt = mark.drops;
            }
          }
        }
      }
      const sentRules = [...ruleWrites];
      // Writes not queued before this pass: covered by its WAIT if they were written in the same connection span.
      const unqueued = overflowed.get(mark.drops) ?? 0;
      for (const [, p] of sentRules) {
        if (p.sentAt === mark.drops) continue;
        const w = p.write;
        if (w.kind === 'refusal') await bounded(store.history.restoreRefusal(w.key, w.at, w.until), 're-publishing a refusal');
        else await bounded(store.history.restoreAttempts(w.key, [{ at: w.at, member: w.member }]), 're-publishing an attempt');
        p.sentAt = mark.drops;
      }
      if (!(await bounded(store.durability.replicated(mark), 'waiting for a replica'))) return;
      // Dropped only if unchanged since sent (a newer write of the same number stays pending, or was superseded).
      for (const [list, key, change] of sentChanges) {
        const held = changes.get(list);
        if (held?.get(key) === change) {
          held.delete(key);
          count--;
        }
        if (held?.size === 0) changes.delete(list);
      }
      for (const [id, p] of sentRules) {
        if (ruleWrites.get(id) === p) {
          ruleWrites.delete(id);
          count--;
        }
      }
      // Those written in this span are now on a replica; any written since (another span entry, or more here) stay.
      const now = overflowed.get(mark.drops) ?? 0;
      if (now === unqueued) overflowed.delete(mark.drops);
      else overflowed.set(mark.drops, now - unqueued);
      logger.info({ republished: sentChanges.length + sentRules.length, pending: count, unqueuedReplicated: unqueued }, 'writes a replica lacked were re-published and are now replicated');
      raise();
    } catch (err) {
      logger.warn({ err, pending: count }, 're-publishing writes a replica lacked failed; retried at the next poll');
    } finally {
      running = false;
    }
  };

  return {
    changeUnreplicated(op, list, keys, who, revocable, mark) {
      // A deny-list addition or an allow-list revocation blocks more; the others are not re-published (losing them blocks).
      if ((op === 'add') === revocable || !room(keys.length, mark)) return;
      let held = changes.get(list);
      if (held === undefined) changes.set(list, (held = new Map()));
      for (const key of keys) {
        if (!held.has(key)) count++;
        held.set(key, { op, revocable, who, sentAt: NEVER });
      }
      raise();
    },
    superseded(list, keys) {
      const held = changes.get(list);
      if (held === undefined) return;
      for (const key of keys) if (held.delete(key)) count--;
      if (held.size === 0) changes.delete(list);
      raise();
    },
    ruleWriteUnreplicated(write, mark) {
      const id = write.kind === 'refusal' ? `r\u0000${write.key}` : `a\u0000${write.member}`;
      if (ruleWrites.has(id)) {
        ruleWrites.set(id, { write, sentAt: NEVER });
        return;
      }
      if (!room(1, mark)) return;
      ruleWrites.set(id, { write, sentAt: NEVER });
      count++;
      raise();
    },
    pending: () => count,
    retry,
  };
}
