/**
 * Writes that matter wait for a replica (redis/durability.ts), against a private master and replica started here:
 * a write is acknowledged as replicated while the replica runs; paused (SIGSTOP), the replica holds nothing new and
 * the wait says "not replicated" within its timeout — including for a write made on ANOTHER connection than the
 * one WAIT runs on (the marker write makes that hold whatever the Redis version: see redis/durability.ts).
 * Concurrent waits share rounds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../../src/redis/store.js';
import type { UnreplicatedWrite } from '../../../src/redis/consumer-history.js';
import { uniquePrefix } from '../../helpers/redis.js';
import { startPrivateRedis, type PrivateRedis } from '../../helpers/redis-server.js';
import { infoField } from '../../helpers/redis-sentinel.js';
import { waitFor } from '../../helpers/spawn-cli.js';

describe('writes wait for a replica (WAIT on the durability connection)', () => {
  let master: PrivateRedis;
  let replica: PrivateRedis;
  let store: RedisStore;
  /**
   * The same master with a long wait, for the assertions that a write IS replicated: a 150 ms WAIT can time out
   * on a loaded 2-core machine although the replica runs (seen with several test files at once).
   */
  let patient: RedisStore;
  const told: UnreplicatedWrite[] = [];

  beforeAll(async () => {
    master = await startPrivateRedis();
    replica = await startPrivateRedis(['--replicaof', '127.0.0.1', String(master.port)]);
    await waitFor(async () => infoField(await replica.cli('INFO', 'replication'), 'master_link_status') === 'up', 'the replica to sync');
    store = await RedisStore.connect({ url: master.url, prefix: uniquePrefix('cgtest-wait'), waitReplicas: 1, waitTimeoutMs: 150, confirmTimeoutMs: 2000 });
    store.observeRuleWrites({ refusal: () => undefined, attempt: () => undefined, unreplicated: (w) => told.push(w) });
    patient = await RedisStore.connect({ url: master.url, prefix: uniquePrefix('cgtest-wait-patient'), waitReplicas: 1, waitTimeoutMs: 10_000, confirmTimeoutMs: 2000 });
  });
  afterAll(async () => {
    replica?.signal('SIGCONT');
    await store?.close();
    await patient?.close();
    await replica?.stop();
    await master?.stop();
  });

  it('acknowledges a refusal as replicated while the replica runs, and says "not replicated" while it is paused', async () => {
    expect(store.durability.enabled).toBe(true);
    expect(await patient.history.recordOutcome(33612000001, 'refused')).toMatchObject({ replicated: true });
    replica.signal('SIGSTOP');
    try {
      // The refusal is written on the fast connection, WAIT runs on the durability connection.
      expect(await store.history.recordOutcome(33612000002, 'refused')).toMatchObject({ replicated: false });
      expect(told).toEqual([expect.objectContaining({ kind: 'refusal', key: 33612000002 })]);
      // An intraday change, written on the bulk connection.
      const mark = store.durability.mark();
      await store.intraday.addIntraday('internal', [33612000003], { who: 'test' });
      expect(await store.durability.replicated(mark)).toBe(false);
    } finally {
      replica.signal('SIGCONT');
    }
    // Resumed: the replica catches up, and the next wait covers everything before it.
    await waitFor(() => store.durability.replicated(store.durability.mark()), 'the replica to catch up', 10_000);
  });

  it('covers many concurrent writes with few WAIT rounds', async () => {
    const before = patient.durability.rounds;
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => patient.history.recordOutcome(33612000100 + i, 'refused')));
    expect(results.every((r) => r.replicated)).toBe(true);
    // Coalesced: at most one round running and one queued behind it at any time, not one per write.
    expect(patient.durability.rounds - before).toBeLessThan(40);
  });

  it('a paused master: one round is left unanswered, and no other is queued behind it until it answers', async () => {
    const before = store.durability.rounds;
    master.signal('SIGSTOP');
    try {
      // Each call outlives a round's guard (timeout + 1 s) and answers "not replicated", never throws.
      for (let i = 0; i < 3; i++) expect(await store.durability.replicated(store.durability.mark())).toBe(false);
      expect(store.durability.rounds - before).toBe(1);
    } finally {
      master.signal('SIGCONT');
    }
    // Once the server answers the old round, rounds run again.
    await waitFor(() => store.durability.replicated(store.durability.mark()), 'a replicated round after the master resumed', 15_000);
    expect(store.durability.rounds - before).toBeGreaterThan(1);
  });

  it('does not wait when waiting is off (waitReplicas 0)', async () => {
    const off = await RedisStore.connect({ url: master.url, prefix: uniquePrefix('cgtest-wait-off') });
    try {
      expect(off.connection.durability).toBeNull();
      replica.signal('SIGSTOP');
      expect(await off.history.recordOutcome(33612000200, 'refused')).toMatchObject({ replicated: true });
    } finally {
      replica.signal('SIGCONT');
      await off.close();
    }
  });
});
