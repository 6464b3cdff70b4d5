import { parseServeConfig } from '../../src/config/config.js';
import { createRedisBackend } from '../../src/backends/redis.js';
import type { FleetTimings } from '../../src/backends/redis-context.js';
import { redisMode } from '../../src/backends/redis-mode.js';
import { RedisStore } from '../../src/redis/store.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { startService, type RunningService } from '../../src/service.js';
import { tempDir } from './service.js';

/** Starts a Redis-mode service in process on a free port; waits until its initial load settled. */
export async function startRedisMode(
  url: string,
  prefix: string,
  args: readonly string[],
  options: { confirmTimeoutMs?: number; timings?: Partial<FleetTimings>; instanceId?: string; now?: () => number; journalPath?: string | null; watchMs?: number; sentinels?: ReadonlyArray<{ host: string; port: number }>; sentinelName?: string } = {},
): Promise<RunningService & { url: string; store: RedisStore }> {
  const audit = args.includes('--audit-dir') ? [] : ['--audit-dir', tempDir('callgate-audit-')];
  const settle = args.includes('--list-settle-ms') ? [] : ['--list-settle-ms', '0'];
  const config = parseServeConfig(['--port', '0', '--redis', url, '--redis-prefix', prefix, ...audit, ...settle, ...args], {});
  // CALLGATE_TEST_LOG=debug|info|…: the sidecars' logs on stderr, to debug a fault test.
  const logger = process.env['CALLGATE_TEST_LOG'] ? createLogger({ level: process.env['CALLGATE_TEST_LOG'], instanceId: options.instanceId ?? config.instanceId, destination: process.stderr }) : silentLogger();
  const store = await RedisStore.connect({ url, prefix,
    // As main.ts logs it: a connection ioredis ended during a fail-over and that is connected again.
    onRevive: (connection, lastError, delayMs) => logger.warn({ connection, lastError, delayMs }, 'a redis connection was ended by ioredis while in use (it would never reconnect): connecting it again'),
    // Generous by default: a loaded CI machine must not turn a slow confirmation into a flaky test
    // (fault tests pass a short one on purpose).
    confirmTimeoutMs: options.confirmTimeoutMs ?? 2000, connectTimeoutMs: 5000,
    ...(options.watchMs === undefined ? {} : { watchMs: options.watchMs }),
    ...(options.sentinels === undefined ? {} : { sentinels: options.sentinels, sentinelName: options.sentinelName }) });
  await store.risks.checkEvictionPolicy();
  const service = await startService(
    config,
    logger,
    ({ registry, alerts }) =>
      createRedisBackend({ registry, store, alerts, logger, defaults: config.listDefaults, instanceId: options.instanceId ?? config.instanceId, timings: { pollMs: 500, ...options.timings }, journalPath: options.journalPath ?? null }),
    { schedules: false, mode: redisMode(store), ...(options.now ? { now: options.now } : {}) },
  );
  await service.loaded;
  return Object.assign(service, { url: `ws://127.0.0.1:${service.port}/`, store });
}
