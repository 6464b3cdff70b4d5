/**
 * The CLI's conventions, on the spawned CLI: --help on every command and --version; every failure one
 * coded line on stderr with exit 2; `check --exit-code` / `--json`; `list remove` of a number the file
 * lists says so; files holding numbers are private; a clean stop logs no error; no key twice in a log line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { tempDir, writeList } from '../../helpers/service.js';
import { runCli, spawnServe, waitFor, type SpawnedServer } from '../../helpers/spawn-cli.js';
import { duplicateKeys } from '../../helpers/json-keys.js';

const ONE_CODED_LINE = /^callgate: [^\n]+ \[CALLGATE_ERR_[A-Z_]+\]\n$/;
const COMMANDS = ['serve', 'check', 'load', 'refresh', 'list', 'block', 'unblock', 'audit', 'why'];

/** Every raw stdout line from now on (the parsed logs would hide a key written twice). */
function rawLines(server: SpawnedServer): string[] {
  const lines: string[] = [];
  createInterface({ input: server.child.stdout! }).on('line', (l) => lines.push(l));
  return lines;
}

async function stop(server: SpawnedServer): Promise<number | null> {
  server.child.kill('SIGTERM');
  return server.exited;
}

// Each test spawns several CLIs: on a busy 2-core machine a Node start alone takes seconds.
describe('callgate --help, --version and errors', { timeout: 180_000 }, () => {
  it('prints the version of package.json', async () => {
    const r = await runCli(['--version']);
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('has --help on every command, exit 0, without running it', async () => {
    // `serve --help` must not start a server; `check --help` must not dial one.
    const results = await Promise.all(COMMANDS.map((command) => runCli([command, '--help'], {}, 60_000)));
    results.forEach((r, i) => {
      expect(r.code, COMMANDS[i]).toBe(0);
      expect(r.stdout, COMMANDS[i]).toMatch(new RegExp(`^usage: callgate ${COMMANDS[i] as string}\\b`));
    });
    const all = await runCli(['--help']);
    expect(all.code).toBe(0);
    for (const command of COMMANDS) expect(all.stdout).toContain(`callgate ${command}`);
  });

  it('reports every failure as one coded line on stderr with exit 2, never a stack trace', async () => {
    const failures = [
      ['frobnicate'],
      ['check', '--nope', '0612345678'],
      ['check'],
      ['check', '--url', 'ws://127.0.0.1:1', '0612345678'],
      ['refresh', '--url', 'http://127.0.0.1:1'],
      ['serve', '--port', 'eighty'],
      ['serve', '--config', join(tempDir(), 'missing.json')],
      ['load', 'a=b'],
      ['list', 'add'],
      ['audit'],
      ['why'],
      ['why', 'not-a-number'],
      ['why', '0612345678', '--url', 'http://127.0.0.1:1'],
    ];
    const results = await Promise.all(failures.map((argv) => runCli(argv, {}, 60_000)));
    results.forEach((r, i) => {
      const argv = (failures[i] as string[]).join(' ');
      expect(r.code, argv).toBe(2);
      expect(r.stderr, argv).toMatch(ONE_CODED_LINE);
      expect(r.stderr, argv).not.toMatch(/\n\s+at /);
    });
    expect((await runCli(['check', '--url', 'ws://127.0.0.1:1', '0612345678'])).stderr).toMatch(/\[CALLGATE_ERR_UNREACHABLE\]/);
  });
});

describe('callgate check --exit-code and --json', { timeout: 180_000 }, () => {
  it('exits 0 when every number is allowed, 1 when any is blocked, and prints the replies as JSON', async () => {
    const list = writeList(['0612345678'], 'bloctel.txt', tempDir());
    const server = await spawnServe(['--list', `bloctel=${list}`]);
    try {
      const url = `ws://127.0.0.1:${server.port}`;
      await waitFor(async () => (await fetch(`http://127.0.0.1:${server.port}/readyz`)).status === 200, 'readiness');
      expect((await runCli(['check', '--url', url, '--exit-code', '0612345679'])).code).toBe(0);
      const blocked = await runCli(['check', '--url', url, '--exit-code', '0612345679', '06 12 34 56 78']);
      expect(blocked.code).toBe(1);
      expect(blocked.stdout).toContain('06 12 34 56 78\tblock\tbloctel\t+33612345678');
      // Without --exit-code a blocked number is an answer, not a failure.
      expect((await runCli(['check', '--url', url, '0612345678'])).code).toBe(0);

      const json = await runCli(['check', '--url', url, '--json', '0612345678', 'nope']);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual([
        { input: '0612345678', verdict: 'block', reason: 'bloctel', number: '+33612345678' },
        { input: 'nope', verdict: 'block', reason: 'invalid_number', number: null },
      ]);
    } finally {
      await stop(server);
    }
  });
});

describe('list remove of a number the file lists', { timeout: 180_000 }, () => {
  const prefix = uniquePrefix();
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  for (const mode of ['embedded', 'redis'] as const) {
    it(`says it is still listed by the file instead of reporting a removal (${mode})`, async () => {
      const list = writeList(['0612345678'], 'bloctel.txt', tempDir());
      const redis = mode === 'redis' ? ['--redis', SHARED_REDIS_URL, '--redis-prefix', prefix] : [];
      const server = await spawnServe(['--list', `bloctel=${list}`, ...redis]);
      try {
        const url = `http://127.0.0.1:${server.port}`;
        await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'readiness');
        const fileListed = await runCli(['list', 'remove', 'bloctel', '06 12 34 56 78', '--url', url]);
        expect(fileListed.code).toBe(1);
        expect(fileListed.stdout).toMatch(/^bloctel: 1 number\(s\) still listed by file generation \S+, not removed: 06 12 34 56 78\n$/);
        expect(fileListed.stdout).not.toMatch(/remove 1/);

        expect((await runCli(['list', 'add', 'bloctel', '0612345670', '--url', url])).code).toBe(0);
        const both = await runCli(['list', 'remove', 'bloctel', '0612345670', '0612345678', '--url', url]);
        expect(both.code).toBe(1);
        expect(both.stdout).toMatch(/^bloctel: remove 1 number\(s\) at .*\nbloctel: 1 number\(s\) still listed by file generation \S+, not removed: 0612345678\n$/);
        const intraday = await runCli(['list', 'remove', 'bloctel', '0612345670', '--url', url]);
        expect(intraday).toMatchObject({ code: 0 });
        expect(intraday.stdout).toMatch(/^bloctel: remove 1 number\(s\) at /);
      } finally {
        await stop(server);
      }
    });
  }
});

describe('conventions of a running sidecar', { timeout: 180_000 }, () => {
  const prefix = uniquePrefix();
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  it('creates the audit folder 0700 and the audit and journal files 0600', async () => {
    const dir = tempDir();
    const auditDir = join(dir, 'audit', 'trail');
    const journal = join(dir, 'journal.jsonl');
    const list = writeList(['0612345678'], 'bloctel.txt', tempDir());
    const server = await spawnServe(['--list', `bloctel=${list}`, '--list', `internal=${writeList(['0612345600'], 'internal.txt', tempDir())}`, '--audit-dir', auditDir, '--journal', journal]);
    try {
      const url = `http://127.0.0.1:${server.port}`;
      await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'readiness');
      expect((await runCli(['list', 'add', 'internal', '0612345699', '--url', url])).code).toBe(0);
      expect((await runCli(['check', '--url', `ws://127.0.0.1:${server.port}`, '0612345678'])).code).toBe(0);
      const auditFile = await waitFor(() => {
        try {
          return readdirSync(auditDir).find((f) => f.endsWith('.jsonl')) ?? null;
        } catch {
          return null;
        }
      }, 'an audit file');
      expect(statSync(auditDir).mode & 0o777).toBe(0o700);
      expect(statSync(join(auditDir, auditFile)).mode & 0o777).toBe(0o600);
      expect(statSync(journal).mode & 0o777).toBe(0o600);
    } finally {
      await stop(server);
    }
  });

  it('stops cleanly in Redis mode without an error line, and never writes a key twice in a log line', async () => {
    const list = writeList(['0612345678'], 'bloctel.txt', tempDir());
    const server = await spawnServe(['--list', `bloctel=${list}`, '--redis', SHARED_REDIS_URL, '--redis-prefix', prefix]);
    const lines = rawLines(server);
    const url = `http://127.0.0.1:${server.port}`;
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'readiness');
    // A forced refresh logs 'list refreshed' through a child logger bound to the list and the trigger.
    expect((await runCli(['refresh', '--url', url, '--force'])).code).toBe(0);
    expect(await stop(server)).toBe(0);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.some((l) => l['msg'] === 'list refreshed')).toBe(true);
    expect(logged.some((l) => l['msg'] === 'stopped')).toBe(true);
    expect(logged.filter((l) => l['level'] === 'error' || l['level'] === 'fatal')).toEqual([]);
    for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
  });
});
