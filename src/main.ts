/**
 * Composition root: configuration → logger → backend and mode (backends/gate-mode.ts) → service, and the process-level behaviour
 * (signals, exit codes). Everything else receives its dependencies from here.
 */
import { parseAcceptEvictionsConfig, parseLoadConfig, parseServeConfig, type RedisConfig } from './config/config.js';
import { createEmbeddedBackend } from './backends/embedded.js';
import { isCallgateError } from './core/errors.js';
import { createLogger, type Logger } from './core/logger.js';
import { embeddedMode, type GateMode } from './backends/gate-mode.js';
import { createRedisBackend } from './backends/redis.js';
import { redisMode } from './backends/redis-mode.js';
import { loadListIntoRedis } from './backends/redis-load.js';
import { RedisStore } from './redis/store.js';
import { startService, type BackendFactory } from './service.js';

type Env = Readonly<Record<string, string | undefined>>;

export async function runServe(argv: readonly string[], env: Env): Promise<number> {
  const config = parseServeConfig(argv, env);
  const logger = createLogger({ level: config.logLevel, instanceId: config.instanceId });
  // Listened for from the start: a SIGTERM while connecting or loading must stop cleanly, not kill the
  // process with the default action (exit by signal, nothing flushed).
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  // Set once the stop begins: the connections closing then are the stop, not Redis going down.
  const lifecycle = { stopping: false };
  let makeBackend: BackendFactory;
  let mode: GateMode;
  if (config.redis === null) {
    mode = embeddedMode();
    makeBackend = ({ registry, alerts }) => createEmbeddedBackend({ registry, alerts, logger: logger.child({ component: 'lists' }), journalPath: config.journalPath });
  } else {
    const connected = await connectRedis(config.redis, logger.child({ component: 'redis' }), lifecycle);
    mode = redisMode(connected);
    makeBackend = ({ registry, alerts }) =>
      createRedisBackend({ registry, store: connected, alerts, logger: logger.child({ component: 'lists' }), defaults: config.listDefaults, instanceId: config.instanceId, journalPath: config.journalPath });
  }
  const service = await startService(config, logger, makeBackend, { mode });
  logger.info({ signal: await signal }, 'signal received');
  lifecycle.stopping = true;
  await service.stop();
  // Everything is closed and flushed; if some handle still holds the event loop, exit anyway rather than
  // hang a rolling restart, and say so (that is a bug to report).
  setTimeout(() => {
    logger.warn('the process was still running 5 s after a clean stop; exiting');
    process.exit(0);
  }, 5000).unref();
  return 0;
}

/**
 * Connects to Redis and refuses a maxmemory-policy that could evict callgate's keys (an evicted
 * bucket would read "not a member" and let a listed number through).
 */
async function connectRedis(config: RedisConfig, logger: Logger, lifecycle: { stopping: boolean }): Promise<RedisStore> {
  const store = await RedisStore.connect({
    url: config.url,
    prefix: config.prefix,
    confirmTimeoutMs: config.confirmTimeoutMs,
    allowEviction: config.allowEviction,
    sentinels: config.sentinels ?? undefined,
    sentinelName: config.sentinels === null ? undefined : config.sentinelName,
    waitReplicas: config.waitReplicas,
    waitTimeoutMs: config.waitTimeoutMs,
    onStateChange: (state) => {
      if (state === 'up') logger.info('redis up');
      else if (lifecycle.stopping) logger.info('redis connections closed');
      else logger.error('redis down: Bloom hits are blocked as unconfirmed until it is back');
    },
    onError: (err) => logger.debug({ err }, 'redis connection error'),
    onRevive: (connection, lastError, delayMs) =>
      logger.warn({ connection, lastError, delayMs }, 'a redis connection was ended by ioredis while in use (it would never reconnect): connecting it again'),
  });
  try {
    await store.risks.checkEvictionPolicy();
  } catch (err) {
    lifecycle.stopping = true;
    await store.close();
    throw err;
  }
  return store;
}

/**
 * `callgate accept-evictions --redis URL`: the operator's answer to an eviction alert, once the lists are
 * reloaded: accepts the evictions Redis counted so far, for the whole fleet, so checks stop blocking for them.
 */
export async function runAcceptEvictionsCommand(argv: readonly string[], env: Env): Promise<number> {
  const config = parseAcceptEvictionsConfig(argv, env);
  const logger = createLogger({ level: config.logLevel, instanceId: config.instanceId, destination: process.stderr });
  const store = await connectRedis(config.redis, logger, { stopping: false });
  try {
    const { runId, evicted } = await store.risks.acceptEvictions();
    process.stdout.write(`accepted ${evicted} evicted keys of Redis server ${runId}\n`);
  } finally {
    await store.close();
  }
  return 0;
}

/** `callgate load --redis URL NAME=PATH…`: writes a new generation per list and switches to it. */
export async function runLoadCommand(argv: readonly string[], env: Env): Promise<number> {
  const config = parseLoadConfig(argv, env);
  const logger = createLogger({ level: config.logLevel, instanceId: config.instanceId, destination: process.stderr });
  const lifecycle = { stopping: false };
  const store = await connectRedis(config.redis, logger, lifecycle);
  let failed = false;
  try {
    for (const spec of config.lists) {
      try {
        const { report } = await loadListIntoRedis(store, spec, { force: config.force });
        const bad = report.badLines > 0 ? `, ${report.badLines} bad lines (first: ${report.badLineNumbers.join(', ')})` : '';
        process.stdout.write(
          `${spec.name}: loaded generation ${report.generation}: ${report.unique} numbers (${report.duplicates} duplicates${bad}) ` +
            `in ${((report.readMs + report.buildMs + report.redisWriteMs) / 1000).toFixed(1)} s\n`,
        );
      } catch (err) {
        failed = true;
        process.stdout.write(`${spec.name}: refused: ${err instanceof Error ? err.message : String(err)}${isCallgateError(err) ? ` [${err.code}]` : ''}\n`);
      }
    }
  } finally {
    lifecycle.stopping = true;
    await store.close();
  }
  return failed ? 1 : 0;
}
