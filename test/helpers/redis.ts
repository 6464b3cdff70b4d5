import { randomBytes } from 'node:crypto';
import { redisCli } from './redis-server.js';

/** The shared Redis of the machine (never flushed: every run uses its own prefix). */
export const SHARED_REDIS_URL = process.env['CALLGATE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(label = 'cgtest'): string {
  return `${label}:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under a prefix (SCAN + UNLINK), never FLUSHALL. */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const found = await redisCli(url, ['--scan', '--pattern', `${prefix}*`]);
  const keys = found.split('\n').filter((k) => k.length > 0);
  for (let i = 0; i < keys.length; i += 500) await redisCli(url, ['UNLINK', ...keys.slice(i, i + 500)]);
}
