/**
 * The Sentinel harness itself (test/helpers/redis-sentinel.ts): a real master, replica and three sentinels
 * agree on the topology, and a kill -9 of the master ends with the replica promoted. Fails, never skips,
 * when redis-sentinel is missing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startSentinelTopology, type SentinelTopology } from '../../helpers/redis-sentinel.js';

describe('Sentinel harness', () => {
  let topology: SentinelTopology | undefined;
  afterAll(async () => {
    await topology?.stop();
  });

  it('starts master, replica, three sentinels; a killed master is replaced by its replica', async () => {
    topology = await startSentinelTopology({ replicas: 1 });
    const [master, replica] = topology.nodes;
    if (master === undefined || replica === undefined) throw new Error('topology without two nodes');
    expect(await topology.currentMaster()).toEqual({ host: '127.0.0.1', port: master.port });
    await master.cli('SET', 'harness-key', 'v');
    expect(await master.cli('WAIT', '1', '5000')).toBe('1');
    await topology.kill(master);
    const promoted = await topology.waitForPromotion(master.port);
    expect(promoted.port).toBe(replica.port);
    expect(await replica.cli('GET', 'harness-key')).toBe('v');
  });
});
