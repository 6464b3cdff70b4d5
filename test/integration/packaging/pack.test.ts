/**
 * The published package works, not just this checkout: `npm pack`, `npm install <tgz>` into a fresh folder,
 * then the installed `callgate` serves (embedded), refreshes a changed list (the build worker thread, a
 * separate .js entry), serves the dashboard and its assets (non-TypeScript files under dashboard/ and uplot),
 * and in Redis mode blocks a number through the Redis confirmation (the scripts); `callgate/client` (package.json
 * "exports") imports from the installed package, type-checks against its shipped .d.ts and runs a check.
 * Anything the `files` field, the exports map or the build forgets to ship (a moved worker entry, .lua files,
 * dashboard assets, declarations) fails here.
 *
 * It packs the built dist/ (`--ignore-scripts`: rebuilding dist while other test files spawn bin/callgate.js
 * would race them), so dist must be current: `npm test` builds first; a focused run needs `npm run build`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { runCli, spawnServe, waitFor, type SpawnedServer } from '../../helpers/spawn-cli.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LISTED = '+33612345678';
const ADDED = '+33612345679';
const UNLISTED = '+33612345670';

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Every .ts under src/ has a dist/ .js at least as new: the tarball holds what the sources say. */
function assertDistCurrent(): void {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const built = join(ROOT, 'dist', relative(join(ROOT, 'src'), path).replace(/\.ts$/, '.js'));
        let builtAt: number;
        try {
          builtAt = statSync(built).mtimeMs;
        } catch {
          builtAt = -1;
        }
        if (builtAt < statSync(path).mtimeMs) stale.push(relative(ROOT, path));
      }
    }
  };
  walk(join(ROOT, 'src'));
  if (stale.length > 0) throw new Error(`dist/ is missing or older than ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', …' : ''}: run npm run build (npm test does)`);
}

async function checkOnce(port: number, number: string): Promise<Record<string, unknown>> {
  const client = await CheckClient.connect(`ws://127.0.0.1:${port}/`);
  try {
    return await client.request({ op: 'check', number });
  } finally {
    await client.close();
  }
}

async function stop(server: SpawnedServer | null): Promise<void> {
  if (server === null || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  await server.exited;
}

describe('the packed package, installed in a fresh folder', () => {
  let work = '';
  let cli = '';
  let app = '';
  const prefix = uniquePrefix('cgpack');
  let embedded: SpawnedServer | null = null;
  let redisMode: SpawnedServer | null = null;

  beforeAll(async () => {
    assertDistCurrent();
    work = mkdtempSync(join(tmpdir(), 'callgate-pack-'));
    const packed = JSON.parse(await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT, 120_000)) as { filename: string }[];
    const tarball = join(work, (packed[0] as { filename: string }).filename);
    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'callgate-pack-probe', version: '1.0.0', private: true }));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app, 240_000);
    cli = join(app, 'node_modules', '.bin', 'callgate');
  }, 300_000);

  afterAll(async () => {
    await stop(embedded);
    await stop(redisMode);
    await deletePrefix(SHARED_REDIS_URL, prefix);
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('serves, refreshes through the worker thread and serves the dashboard (embedded mode)', async () => {
    const list = join(work, 'deny.txt');
    writeFileSync(list, '0612345678\n');
    embedded = await spawnServe(['--list', `packed=${list}`], {}, 60_000, cli);
    const { port } = embedded;
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 'the installed callgate to be ready', 30_000);
    expect(await checkOnce(port, '06 12 34 56 78')).toMatchObject({ verdict: 'block', reason: 'packed', number: LISTED });
    expect(await checkOnce(port, '06 12 34 56 79')).toMatchObject({ verdict: 'allow', reason: 'not_listed', number: ADDED });

    // A new file (another size: a local source is "unchanged" while size and mtime are), refreshed on demand.
    writeFileSync(list, '0612345678\n0612345679\n');
    const refreshed = await runCli(['refresh', '--url', `http://127.0.0.1:${port}`, '--list', 'packed'], {}, 60_000, cli);
    expect(refreshed.code, refreshed.stdout + refreshed.stderr).toBe(0);
    expect(refreshed.stdout).toMatch(/^packed: loaded generation /m);
    expect(await checkOnce(port, '06 12 34 56 79')).toMatchObject({ verdict: 'block', reason: 'packed', number: ADDED });

    for (const path of ['/dashboard', '/dashboard/dashboard.js', '/dashboard/dashboard.css', '/dashboard/uplot.js']) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      expect(res.status, path).toBe(200);
      expect((await res.text()).length, path).toBeGreaterThan(0);
    }
  }, 120_000);

  it('exports callgate/client with its types: a TypeScript dialer compiles against it and checks through it', async () => {
    expect(embedded, 'the embedded test runs first').not.toBeNull();
    const port = (embedded as SpawnedServer).port;
    expect(existsSync(join(app, 'node_modules', 'callgate', 'dist', 'client', 'index.d.ts'))).toBe(true);
    const probe = [
      "import { CallgateClient, Reason, type CheckAnswer, type Verdict } from 'callgate/client';",
      'const client = new CallgateClient({ url: process.argv[2] ?? "", timeoutMs: 5000 });',
      "const listed: CheckAnswer = await client.check('06 12 34 56 78');",
      "const unlisted: Verdict = (await client.check('06 12 34 56 70')).verdict;",
      'await client.close();',
      'process.stdout.write(JSON.stringify({ listed, unlisted, reason: Reason.GATE_UNAVAILABLE }));',
    ].join('\n');
    writeFileSync(join(app, 'probe.mts'), `${probe}\n`);
    // The installed package's declarations, resolved through its exports map (nodenext), strict.
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node', '--outDir', join(app, 'out'), 'probe.mts'], app, 120_000);
    const out = JSON.parse(await run(process.execPath, [join(app, 'out', 'probe.mjs'), `ws://127.0.0.1:${port}/`], app, 60_000)) as Record<string, unknown>;
    expect(out).toEqual({ listed: { verdict: 'block', reason: 'packed', number: LISTED }, unlisted: 'allow', reason: 'gate_unavailable' });
  }, 180_000);

  it('blocks a listed number through the Redis confirmation after `callgate load` (Redis mode)', async () => {
    const list = join(work, 'redis-deny.txt');
    writeFileSync(list, '0612345678\n0612345679\n');
    const redisArgs = ['--redis', SHARED_REDIS_URL, '--redis-prefix', prefix];
    const loaded = await runCli(['load', ...redisArgs, `packed=${list}`], {}, 120_000, cli);
    expect(loaded.code, loaded.stdout + loaded.stderr).toBe(0);

    // No list configured: the sidecar serves the lists current in Redis.
    redisMode = await spawnServe(redisArgs, {}, 60_000, cli);
    const { port } = redisMode;
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 'the installed callgate to be ready in Redis mode', 30_000);
    expect(await checkOnce(port, '06 12 34 56 78')).toMatchObject({ verdict: 'block', reason: 'packed', number: LISTED });
    expect(await checkOnce(port, '06 12 34 56 70')).toMatchObject({ verdict: 'allow', reason: 'not_listed', number: UNLISTED });

    // The block came from Redis's answer (the confirmation script), not from the filter alone.
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^callgate_confirmations_total\{[^}]*answer="member"[^}]*\} [1-9]/m);
  }, 180_000);
});
