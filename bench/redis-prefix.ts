/**
 * A bench script's keys in Redis live under a prefix of its own (pid in it) and are removed by that prefix when
 * it ends: never a FLUSHDB, the Redis may be shared.
 */
import type { RedisStore } from '../src/redis/store.js';

/** Unlinks every key under `prefix`, SCANning in batches (no KEYS: it would block Redis), then closes the store. */
export async function dropPrefixAndClose(store: RedisStore, prefix: string): Promise<void> {
  const client = store.connection.bulk;
  let cursor = '0';
  do {
    const [next, keys] = (await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)) as [string, string[]];
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
  await store.close();
}
