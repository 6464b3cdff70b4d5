import { parseServeConfig } from '../../src/config.js';
import { createRedisBackend } from '../../src/redis-backend.js';
import { RedisStore } from '../../src/redis-store.js';
import { silentLogger } from '../../src/logger.js';
import { startService, type RunningService } from '../../src/service.js';

/** Starts a Redis-mode service in process on a free port; waits until its initial load settled. */
export async function startRedisMode(
  url: string,
  prefix: string,
  args: readonly string[],
  options: { confirmTimeoutMs?: number } = {},
): Promise<RunningService & { url: string; store: RedisStore }> {
  const config = parseServeConfig(['--port', '0', '--redis', url, '--redis-prefix', prefix, ...args], {});
  const store = await RedisStore.connect({ url, prefix, confirmTimeoutMs: options.confirmTimeoutMs ?? config.redis?.confirmTimeoutMs ?? 50, connectTimeoutMs: 5000 });
  await store.checkEvictionPolicy();
  const logger = silentLogger();
  const service = await startService(config, logger, (registry) => createRedisBackend(registry, store, config.falsePositiveRate, logger));
  await service.loaded;
  return Object.assign(service, { url: `ws://127.0.0.1:${service.port}/`, store });
}
