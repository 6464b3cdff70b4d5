/**
 * A Redis connection that ioredis ends for good while it is still in use is connected again (redis/connection.ts).
 * ioredis ends a client (status 'end': no more reconnections, every command "Connection is closed.") when its
 * connector is disconnected while a reconnection attempt is under way; Sentinel's fail-over detector does that on
 * +switch-master, which made the fail-over loss test's sidecar lose its bulk connection for good under CPU load.
 * Here the same interruption is made deterministic on a private redis-server: the reconnection is interrupted at
 * its 'connecting' step, before the connector's own check runs (both on the same tick queue, in that order).
 * A connection its owner released (disconnect(), close()) stays ended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection, type Client } from '../../../src/redis/connection.js';
import { startPrivateRedis, type PrivateRedis } from '../../helpers/redis-server.js';
import { waitFor } from '../../helpers/spawn-cli.js';

interface Revival {
  readonly name: string;
  readonly lastError: string;
}

/** Interrupts the client's next reconnection at its 'connecting' step, as the fail-over detector may. */
function endByInterruptedReconnect(client: Client): Promise<void> {
  let interrupted = false;
  const ended = new Promise<void>((resolve) => client.on('end', () => resolve()));
  client.on('connecting', () => {
    if (interrupted) return;
    interrupted = true;
    client.disconnect(true);
  });
  // A reconnection (reconnect = true): the client is still in use.
  client.disconnect(true);
  return ended;
}

describe('a connection ioredis ended while in use', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  }, 30_000);
  afterAll(async () => {
    await redis?.stop();
  });

  const open = async (revivals: Revival[]): Promise<Connection> => {
    const connection = new Connection({ url: redis.url, reconnectMaxDelayMs: 200, onRevive: (name, lastError) => revivals.push({ name, lastError }) }, []);
    await connection.ready();
    return connection;
  };

  it('is connected again and answers', async () => {
    const revivals: Revival[] = [];
    const connection = await open(revivals);
    try {
      await endByInterruptedReconnect(connection.bulk);
      // Without the revival it stays 'end' and every command fails with "Connection is closed." for good.
      expect(revivals.map((r) => r.name)).toEqual(['bulk']);
      await waitFor(async () => (await connection.bulk.ping().catch(() => null)) === 'PONG', 'bulk to answer again', 10_000);
      // The fast connection too (isUp(), and every confirm, read it).
      await endByInterruptedReconnect(connection.fast);
      await waitFor(() => connection.isUp(), 'fast to be up again', 10_000);
      expect(await connection.fast.ping()).toBe('PONG');
      expect(revivals.map((r) => r.name)).toEqual(['bulk', 'confirm']);
    } finally {
      await connection.close();
    }
  }, 30_000);

  it('is connected again each time it ends', async () => {
    const revivals: Revival[] = [];
    const connection = await open(revivals);
    try {
      for (let i = 1; i <= 3; i++) {
        await endByInterruptedReconnect(connection.bulk);
        await waitFor(async () => (await connection.bulk.ping().catch(() => null)) === 'PONG', `bulk to answer again (${i})`, 10_000);
      }
      expect(revivals).toHaveLength(3);
    } finally {
      await connection.close();
    }
  }, 30_000);

  it('stays ended once its owner released it', async () => {
    const revivals: Revival[] = [];
    const connection = await open(revivals);
    const dialled = await connection.dial('released');
    const ended = new Promise<void>((resolve) => dialled.on('end', () => resolve()));
    dialled.disconnect();
    await ended;
    // Decided when it ends: a released connection is not revived, now or later.
    expect(revivals).toEqual([]);
    const bulkEnded = new Promise<void>((resolve) => connection.bulk.on('end', () => resolve()));
    await connection.close();
    await bulkEnded;
    expect(revivals).toEqual([]);
    expect(connection.bulk.status).toBe('end');
  }, 30_000);
});
