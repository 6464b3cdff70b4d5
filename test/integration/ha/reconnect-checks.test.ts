/**
 * Issue 16 item 3: the server checks run at every (re)connection, not only at start-up. The periodic re-read is
 * set to 10 minutes here, so only a reconnection (CLIENT KILL) can find what changed behind the sidecar: an
 * evicting maxmemory-policy, a master turned replica (REPLICAOF), a changed fleet epoch. Each blocks (Bloom hits
 * answer `unconfirmed`) and alerts, then clears once fixed. Also: the persistence warning, the server-change
 * alert and metric. Private redis-server processes only (CONFIG SET and REPLICAOF never reach the shared one).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { epochKey } from '../../../src/redis/keys.js';
import { startPrivateRedis, type PrivateRedis } from '../../helpers/redis-server.js';
import { infoField } from '../../helpers/redis-sentinel.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { tempDir, writeList } from '../../helpers/service.js';
import { waitFor } from '../../helpers/spawn-cli.js';

const LISTED = '0612000001';
const PREFIX = 'cg:';

describe('configuration checks on every reconnection (private redis-server)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  });

  async function sidecar(redis: PrivateRedis): Promise<{ check(): Promise<Record<string, unknown>>; outcome(): Promise<Record<string, unknown>>; alertIds(): string[]; metrics(): Promise<string>; reconnect(): Promise<void> }> {
    const svc = await startRedisMode(redis.url, PREFIX, ['--list', `bloctel=${writeList([LISTED])}`], { watchMs: 600_000, timings: { pollMs: 600_000 } });
    const c = await CheckClient.connect(svc.url);
    cleanup.push(async () => {
      await c.close();
      await svc.stop();
    });
    return {
      check: () => c.request({ op: 'check', number: LISTED }),
      outcome: () => c.request({ op: 'outcome', number: '0612000002', outcome: 'refused' }),
      alertIds: () => svc.alerts.active().map((a) => a.id),
      metrics: async () => (await fetch(`http://127.0.0.1:${svc.port}/metrics`)).text(),
      // Drops every callgate connection: ioredis reconnects and emits 'ready' again.
      reconnect: async () => {
        await redis.cli('CLIENT', 'KILL', 'TYPE', 'normal');
      },
    };
  }

  async function privateRedis(args: readonly string[] = []): Promise<PrivateRedis> {
    // Its own dir: a replica's sync and AOF write files, never into the working tree.
    const r = await startPrivateRedis(['--dir', tempDir('callgate-redis-'), ...args]);
    cleanup.push(() => r.stop());
    return r;
  }

  it('an evicting maxmemory-policy set after start-up is found at the next reconnection, blocks and alerts, and clears once fixed', async () => {
    const redis = await privateRedis();
    const s = await sidecar(redis);
    expect(await s.check()).toMatchObject({ verdict: 'block', reason: 'bloctel' });
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    // Without a reconnection nothing re-reads it for 10 minutes.
    expect(await s.check()).toMatchObject({ verdict: 'block', reason: 'bloctel' });
    await s.reconnect();
    await waitFor(async () => (await s.check())['reason'] === 'unconfirmed' && s.alertIds().includes('redis_eviction'), 'the eviction risk after the reconnection');
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    await s.reconnect();
    await waitFor(async () => (await s.check())['reason'] === 'bloctel' && !s.alertIds().includes('redis_eviction'), 'the risk to clear');
  });

  it('a master turned replica (REPLICAOF) is found at the next reconnection: blocks, alerts redis_role, writes refused; clears when it is master again', async () => {
    const redis = await privateRedis();
    const s = await sidecar(redis);
    expect(await s.check()).toMatchObject({ verdict: 'block', reason: 'bloctel' });
    // A manual fail-over: a fresh replica takes a copy, is promoted, and the sidecar's server follows it.
    const other = await privateRedis(['--replicaof', '127.0.0.1', String(redis.port)]);
    await waitFor(async () => infoField(await other.cli('INFO', 'replication'), 'master_link_status') === 'up', 'the copy to sync');
    await other.cli('REPLICAOF', 'NO', 'ONE');
    await redis.cli('REPLICAOF', '127.0.0.1', String(other.port));
    await waitFor(async () => infoField(await redis.cli('INFO', 'replication'), 'master_link_status') === 'up', 'the demoted master to sync');
    await s.reconnect();
    await waitFor(async () => (await s.check())['reason'] === 'unconfirmed' && s.alertIds().includes('redis_role'), 'the role risk after the reconnection');
    // A write to a replica (READONLY) is an error reply, not an acknowledgement, and the sidecar lives on.
    const refused = await s.outcome();
    expect(refused['ok']).not.toBe(true);
    expect(refused['error']).toBeDefined();
    await redis.cli('REPLICAOF', 'NO', 'ONE');
    await s.reconnect();
    await waitFor(async () => (await s.check())['reason'] === 'bloctel' && !s.alertIds().includes('redis_role'), 'the role risk to clear');
  });

  it('a changed fleet epoch is found at the next reconnection (not only at the poll): the wipe alert', async () => {
    const redis = await privateRedis();
    const s = await sidecar(redis);
    expect(s.alertIds()).not.toContain('redis_wiped');
    await redis.cli('SET', epochKey(PREFIX), 'another-epoch');
    await s.reconnect();
    await waitFor(() => s.alertIds().includes('redis_wiped'), 'the wipe alert after the reconnection');
  });

  it('warns while neither AOF nor a replica protects the data; a Redis restart counts as a server change (alert and metric)', async () => {
    const redis = await privateRedis();
    const s = await sidecar(redis);
    expect(s.alertIds()).toContain('redis_persistence');
    expect(await s.metrics()).toMatch(/^callgate_redis_server_changes_total 0$/m);
    await redis.cli('CONFIG', 'SET', 'appendonly', 'yes');
    await s.reconnect();
    await waitFor(() => !s.alertIds().includes('redis_persistence'), 'the persistence warning to clear');
    await redis.stop();
    await redis.start();
    await waitFor(() => s.alertIds().includes('redis_failover'), 'the server-change alert');
    expect(await s.metrics()).toMatch(/^callgate_redis_server_changes_total 1$/m);
  });
});
