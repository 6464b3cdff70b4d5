import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { tempDir, writeList } from '../../helpers/service.js';
import { CLI, spawnServe, waitFor } from '../../helpers/spawn-cli.js';

const run = promisify(execFile);

describe('the callgate CLI as a process', () => {
  it('serves, answers `callgate check`, and drains in-flight work on SIGTERM before exiting 0', async () => {
    const list = writeList(['0612345678', '+262 692 12 34 56'], 'bloctel.txt', tempDir());
    const server = await spawnServe(['--list', `bloctel=${list}`]);
    const url = `ws://127.0.0.1:${server.port}`;
    await waitFor(async () => (await fetch(`http://127.0.0.1:${server.port}/readyz`)).status === 200, 'readiness');

    const { stdout } = await run(process.execPath, [CLI, 'check', '--url', url, '06 12 34 56 78', '0692123456', '0612345679', 'nope']);
    expect(stdout.trim().split('\n')).toEqual([
      '06 12 34 56 78\tblock\tbloctel\t+33612345678',
      '0692123456\tblock\tbloctel\t+262692123456',
      '0612345679\tallow\tnot_listed\t+33612345679',
      'nope\tblock\tinvalid_number\t-',
    ]);

    const client = await CheckClient.connect(url);
    const closed = new Promise<number>((resolve) => client.socket.once('close', (code: number) => resolve(code)));
    // Big batches are answered in slices, so they are still in flight when the signal lands.
    const batches = Array.from({ length: 4 }, (_, b) => client.request({ id: `b${b}`, op: 'check', numbers: Array.from({ length: 10_000 }, (_, i) => `06${String(i).padStart(8, '0')}`) }));
    await new Promise((r) => setTimeout(r, 5));
    server.child.kill('SIGTERM');
    const replies = await Promise.all(batches);
    for (const r of replies) expect((r['results'] as unknown[]).length).toBe(10_000);
    expect(await closed).toBe(1001);
    expect(await server.exited).toBe(0);
    expect(server.logs.some((l) => l['msg'] === 'stopped')).toBe(true);
  });

  it('refuses to start with no list, saying why, exit code 2', async () => {
    const err = await run(process.execPath, [CLI, 'serve'], { env: { PATH: process.env['PATH'] ?? '' } }).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/no lists configured.*CALLGATE_ERR_NO_LISTS/);
  });

  it('never logs a full phone number', async () => {
    const list = writeList(['0612345678', 'bad line 0699'], 'bloctel.txt', tempDir());
    const server = await spawnServe(['--list', `bloctel=${list}`, '--max-bad-line-ratio', '0.5']);
    await waitFor(() => server.logs.some((l) => l['msg'] === 'list refreshed'), 'list refreshed');
    const client = await CheckClient.connect(`ws://127.0.0.1:${server.port}`);
    await client.request({ op: 'check', number: '0612345678' });
    await client.close();
    server.child.kill('SIGTERM');
    await server.exited;
    const text = JSON.stringify(server.logs);
    expect(text).not.toMatch(/612345678/);
    const load = server.logs.find((l) => l['msg'] === 'list refreshed');
    expect(load).toMatchObject({ list: 'bloctel', unique: 1, badLines: 1, badLineNumbers: [2] });
  });
});
