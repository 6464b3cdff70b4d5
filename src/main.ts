/**
 * Composition root: configuration → logger → backend → service, and the process-level behaviour
 * (signals, exit codes). Everything else receives its dependencies from here.
 */
import { parseCheckCommand, parseServeConfig } from './config.js';
import { createEmbeddedBackend } from './embedded-backend.js';
import { createLogger } from './logger.js';
import { startService } from './service.js';
import { CheckClient } from './ws-client.js';

type Env = Readonly<Record<string, string | undefined>>;

export async function runServe(argv: readonly string[], env: Env): Promise<number> {
  const config = parseServeConfig(argv, env);
  const logger = createLogger({ level: config.logLevel, instanceId: config.instanceId });
  if (config.redis !== null) {
    throw new Error('Redis mode is not available in this build');
  }
  const service = await startService(config, logger, (registry) => createEmbeddedBackend(registry, logger.child({ component: 'lists' })));
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'signal received');
  await service.stop();
  return 0;
}

/** `callgate check NUMBER…`: one line per number — as given, verdict, reason, E.164. */
export async function runCheckCommand(argv: readonly string[], env: Env): Promise<number> {
  const config = parseCheckCommand(argv, env);
  const client = await CheckClient.connect(config.url);
  try {
    const replies = await Promise.all(
      config.numbers.map((number) => client.request(config.campaign === null ? { op: 'check', number } : { op: 'check', number, campaign: config.campaign })),
    );
    let failed = false;
    replies.forEach((reply, i) => {
      const given = config.numbers[i] ?? '';
      if ('error' in reply) {
        failed = true;
        process.stdout.write(`${given}\terror\t${JSON.stringify(reply['error'])}\n`);
      } else {
        process.stdout.write(`${given}\t${String(reply['verdict'])}\t${String(reply['reason'])}\t${reply['number'] === null ? '-' : String(reply['number'])}\n`);
      }
    });
    return failed ? 1 : 0;
  } finally {
    await client.close();
  }
}

export async function runLoadCommand(_argv: readonly string[], _env: Env): Promise<number> {
  throw new Error('load needs Redis mode, not available in this build');
}
