import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServeConfig } from '../../src/config/config.js';
import { createEmbeddedBackend } from '../../src/backends/embedded.js';
import { embeddedMode } from '../../src/backends/gate-mode.js';
import { silentLogger } from '../../src/core/logger.js';
import { startService, type RunningService } from '../../src/service.js';

export function tempDir(prefix = 'callgate-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes a list file (one line per entry) in a fresh temp dir and returns its path. */
export function writeList(lines: readonly string[], name = 'list.txt', dir = tempDir()): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Starts an embedded service on a free loopback port; waits until its initial load settled. */
export async function startEmbedded(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { now?: () => number; journalPath?: string | null } = {},
): Promise<RunningService & { url: string }> {
  const audit = args.includes('--audit-dir') ? [] : ['--audit-dir', tempDir('callgate-audit-')];
  // Test files are written a moment before they are read: no settle wait unless a test asks for one.
  const settle = args.includes('--list-settle-ms') ? [] : ['--list-settle-ms', '0'];
  const config = parseServeConfig(['--port', '0', ...audit, ...settle, ...args], env);
  const logger = silentLogger();
  const service = await startService(
    config,
    logger,
    ({ registry, alerts }) => createEmbeddedBackend({ registry, alerts, logger, journalPath: options.journalPath ?? null, ...(options.now ? { now: options.now } : {}) }),
    { ...(options.now ? { now: options.now } : {}), schedules: false, mode: embeddedMode() },
  );
  await service.loaded;
  return Object.assign(service, { url: `ws://127.0.0.1:${service.port}/` });
}
