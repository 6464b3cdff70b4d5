/**
 * backends/replication-retry.ts over a fake store: only writes that block more are held, a later change of the
 * same number supersedes a pending one, a pass re-publishes once per connection span and drops what a replica
 * then holds, and the alert follows the pending count; writes over the cap clear only when a WAIT of their own
 * connection span covers them. A Redis call that never answers fails its pass at its deadline instead of holding
 * every later pass off, a large group goes one script call at a time and keeps what landed, and a pass that finds
 * Redis down says so once and runs once it is up.
 * (Against real processes: test/integration/redis/failover-loss.test.ts.)
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createReplicationRetry, MAX_LATE_STEPS, MAX_PENDING } from '../../../src/backends/replication-retry.js';
import type { RedisBackendContext } from '../../../src/backends/redis-context.js';
import { createLogger, silentLogger } from '../../../src/core/logger.js';
import { AlertRegistry } from '../../../src/supervision/alerts.js';
import { INTRADAY_CHUNK } from '../../../src/redis/intraday.js';

/**
 * What a call answers: at once, never (a hung socket), when the test releases it (a slow Redis), or at once for the
 * next `nowLeft` calls and never after (a Redis that slows down mid-pass).
 */
type Answer = 'now' | 'never' | 'held' | 'some';
const NEVER_SETTLES = new Promise<never>(() => undefined);

interface FakeState {
  replicated: boolean;
  drops: number;
  up: boolean;
  writes: Answer;
  wait: Answer;
  /** Releases the calls answered 'held', in order. */
  held: Array<() => void>;
  /** Calls still answered at once under 'some'. */
  nowLeft: number;
}

function fake(): { ctx: RedisBackendContext; calls: string[]; state: FakeState; logged: () => Array<{ level: string; msg: string; err?: { code?: string } }> } {
  const calls: string[] = [];
  const state: FakeState = { replicated: false, drops: 0, up: true, writes: 'now', wait: 'now', held: [], nowLeft: 0 };
  const answer = <T>(v: T): Promise<T> => {
    if (state.writes === 'held') return new Promise<T>((resolve) => state.held.push(() => resolve(v)));
    if (state.writes === 'some') return state.nowLeft-- > 0 ? Promise.resolve(v) : NEVER_SETTLES;
    return state.writes === 'never' ? NEVER_SETTLES : Promise.resolve(v);
  };
  let out = '';
  const logger = createLogger({ level: 'info', instanceId: 't', destination: new Writable({ write: (chunk: Buffer, _e, cb) => ((out += chunk.toString()), cb()) }) });
  const store = {
    connection: { isUp: () => state.up, hungSocketMs: 5000 },
    durability: {
      replicas: 1,
      timeoutMs: 50,
      mark: () => ({ drops: state.drops }),
      replicated: () => (state.wait === 'never' ? NEVER_SETTLES : Promise.resolve(state.replicated)),
    },
    intraday: {
      addIntraday: (list: string, keys: number[]) => (calls.push(`add ${list} ${keys.join(',')}`), answer('1-0')),
      removeIntraday: (list: string, keys: number[]) => (calls.push(`remove ${list} ${keys.join(',')}`), answer('1-0')),
    },
    history: {
      restoreRefusal: (key: number) => (calls.push(`refusal ${key}`), answer(true)),
      restoreAttempts: (key: number) => (calls.push(`attempt ${key}`), answer(undefined)),
    },
  };
  const ctx = { store, logger, alerts: new AlertRegistry({ logger: silentLogger() }) } as unknown as RedisBackendContext;
  const logged = (): Array<{ level: string; msg: string; err?: { code?: string } }> =>
    out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { level: string; msg: string; err?: { code?: string } });
  return { ctx, calls, state, logged };
}

const SPAN0 = { drops: 0 };

describe('re-publishing writes a replica lacked', () => {
  it('holds only what blocks more, and a later change supersedes', () => {
    const { ctx } = fake();
    const r = createReplicationRetry(ctx);
    r.changeUnreplicated('add', 'internal', [1, 2], 'agent', false, SPAN0); // deny-list addition: held
    r.changeUnreplicated('remove', 'internal', [3], 'agent', false, SPAN0); // deny-list withdrawal: losing it blocks
    r.changeUnreplicated('remove', 'consents', [4], 'crm', true, SPAN0); // revocation: held
    r.changeUnreplicated('add', 'consents', [5], 'crm', true, SPAN0); // grant: losing it blocks
    expect(r.pending()).toBe(3);
    r.superseded('internal', [2]);
    expect(r.pending()).toBe(2);
    r.ruleWriteUnreplicated({ kind: 'refusal', key: 7, at: 1, until: 2 }, SPAN0);
    r.ruleWriteUnreplicated({ kind: 'refusal', key: 7, at: 3, until: 4 }, SPAN0);
    r.ruleWriteUnreplicated({ kind: 'attempt', key: 8, at: 1, member: '1-a' }, SPAN0);
    expect(r.pending()).toBe(4);
    expect(ctx.alerts.active().map((a) => a.id)).toEqual(['redis_unreplicated']);
  });

  it('re-publishes once per connection span, waits until a replica holds them, then forgets them', async () => {
    const { ctx, calls, state } = fake();
    const r = createReplicationRetry(ctx);
    r.changeUnreplicated('add', 'internal', [1], 'agent', false, SPAN0);
    r.ruleWriteUnreplicated({ kind: 'attempt', key: 8, at: 1, member: '1-a' }, SPAN0);
    await r.retry();
    expect(calls).toEqual(['add internal 1', 'attempt 8']);
    // No replica yet, same connections: only the WAIT is repeated.
    await r.retry();
    expect(calls).toHaveLength(2);
    expect(r.pending()).toBe(2);
    // A connection dropped (a fail-over may have replaced the master): published again.
    state.drops++;
    state.replicated = true;
    await r.retry();
    expect(calls).toEqual(['add internal 1', 'attempt 8', 'add internal 1', 'attempt 8']);
    expect(r.pending()).toBe(0);
    expect(ctx.alerts.active()).toEqual([]);
  });

  it('clears the unqueued writes of a span once a WAIT of that span covers them', async () => {
    const { ctx, state } = fake();
    const r = createReplicationRetry(ctx);
    r.changeUnreplicated('add', 'internal', Array.from({ length: MAX_PENDING }, (_, i) => i), 'agent', false, SPAN0);
    r.changeUnreplicated('add', 'internal', [MAX_PENDING], 'agent', false, SPAN0); // not queued: over the cap
    expect(r.pending()).toBe(MAX_PENDING);
    expect(ctx.alerts.active().map((a) => [a.id, a.severity])).toEqual([['redis_unreplicated', 'critical']]);
    state.replicated = true;
    await r.retry();
    expect(r.pending()).toBe(0);
    expect(ctx.alerts.active()).toEqual([]);
  });

  it('keeps the alert critical for unqueued writes once a connection dropped after them (Redis may have lost them)', async () => {
    const { ctx, state } = fake();
    const r = createReplicationRetry(ctx);
    r.changeUnreplicated('add', 'internal', Array.from({ length: MAX_PENDING }, (_, i) => i), 'agent', false, SPAN0);
    r.ruleWriteUnreplicated({ kind: 'refusal', key: -1, at: 1, until: 2 }, SPAN0); // not queued
    state.drops++;
    state.replicated = true;
    await r.retry();
    expect(r.pending()).toBe(0);
    const alert = ctx.alerts.active().find((a) => a.id === 'redis_unreplicated');
    expect(alert?.severity).toBe('critical');
    expect(alert?.details).toMatchObject({ pending: 0, overflowed: 1 });
    // Later passes cannot prove it either: it stays.
    await r.retry();
    expect(ctx.alerts.active().map((a) => a.id)).toEqual(['redis_unreplicated']);
  });

  it('fails a pass whose write never answers at its deadline, and the next pass re-publishes', async () => {
    const { ctx, calls, state, logged } = fake();
    const r = createReplicationRetry(ctx, { stepTimeoutMs: 30 });
    r.changeUnreplicated('add', 'internal', [1], 'agent', false, SPAN0);
    state.writes = 'never';
    // Resolves although the write never answers (before the deadlines, `running` stayed set for good).
    await r.retry();
    expect(logged().filter((l) => l.level === 'warn').map((l) => l.err?.code)).toEqual(['CALLGATE_ERR_REDIS']);
    state.writes = 'now';
    state.replicated = true;
    await r.retry();
    expect(calls).toEqual(['add internal 1', 'add internal 1']);
    expect(r.pending()).toBe(0);
  });

  it('starts no pass while MAX_LATE_STEPS calls past their deadline still run, and resumes when they answer', async () => {
    // A slow Redis: each pass's write misses its deadline but goes on (a re-publish is a loop of script calls).
    // Another pass would only queue the same work behind it on the same connection, one more loop each poll.
    const { ctx, calls, state, logged } = fake();
    const r = createReplicationRetry(ctx, { stepTimeoutMs: 10 });
    r.changeUnreplicated('add', 'internal', [1], 'agent', false, SPAN0);
    state.writes = 'held';
    for (let i = 0; i < 6; i++) await r.retry();
    expect(calls).toHaveLength(MAX_LATE_STEPS);
    expect(logged().filter((l) => l.level === 'warn' && l.err === undefined)).toHaveLength(1);
    // The late calls answer: the next pass runs, re-publishes and completes.
    state.writes = 'now';
    state.replicated = true;
    for (const release of state.held.splice(0)) release();
    // Their answers are counted a reaction later.
    await new Promise((resolve) => setImmediate(resolve));
    await r.retry();
    expect(calls).toHaveLength(MAX_LATE_STEPS + 1);
    expect(r.pending()).toBe(0);
  });

  it('re-publishes a large group one script call (INTRADAY_CHUNK numbers) at a time, keeping what landed when a later call misses its deadline', async () => {
    const { ctx, calls, state } = fake();
    const r = createReplicationRetry(ctx, { stepTimeoutMs: 10 });
    const keys = Array.from({ length: 2 * INTRADAY_CHUNK + 500 }, (_, i) => 33612000000 + i);
    r.changeUnreplicated('add', 'internal', keys, 'agent', false, SPAN0);
    // The first call lands, the second never answers: the pass fails there.
    state.writes = 'some';
    state.nowLeft = 1;
    await r.retry();
    expect(calls.map((c) => c.split(',').length)).toEqual([INTRADAY_CHUNK, INTRADAY_CHUNK]);
    // The next pass sends only what did not land (the chunk that missed, and the rest), then the WAIT covers all.
    state.writes = 'now';
    state.replicated = true;
    await r.retry();
    expect(calls.slice(2).map((c) => c.split(',').length)).toEqual([INTRADAY_CHUNK, 500]);
    expect(calls[2]?.startsWith(`add internal ${33612000000 + INTRADAY_CHUNK},`)).toBe(true);
    expect(r.pending()).toBe(0);
  });

  it('fails a pass whose WAIT never answers at its deadline, and the next pass completes', async () => {
    const { ctx, calls, state, logged } = fake();
    const r = createReplicationRetry(ctx, { stepTimeoutMs: 30 });
    r.ruleWriteUnreplicated({ kind: 'refusal', key: 7, at: 1, until: 2 }, SPAN0);
    state.wait = 'never';
    await r.retry();
    expect(logged().filter((l) => l.level === 'warn').map((l) => l.err?.code)).toEqual(['CALLGATE_ERR_REDIS']);
    state.wait = 'now';
    state.replicated = true;
    await r.retry();
    // Re-published once in this span (the write itself had answered), then only waited for.
    expect(calls).toEqual(['refusal 7']);
    expect(r.pending()).toBe(0);
  });

  it('says once that Redis is down while writes wait, and re-publishes once it is up', async () => {
    const { ctx, calls, state, logged } = fake();
    const r = createReplicationRetry(ctx);
    r.changeUnreplicated('remove', 'consents', [4], 'crm', true, SPAN0);
    state.up = false;
    await r.retry();
    await r.retry();
    expect(calls).toEqual([]);
    expect(logged().filter((l) => l.level === 'warn')).toHaveLength(1);
    state.up = true;
    state.replicated = true;
    await r.retry();
    expect(calls).toEqual(['remove consents 4']);
    expect(r.pending()).toBe(0);
  });
});
