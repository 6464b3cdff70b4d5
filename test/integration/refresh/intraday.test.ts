/**
 * Intraday opt-outs in embedded mode, through the real CLI as processes: `callgate list add|remove`,
 * `callgate block|unblock`, the journal across restarts (same file: kept; a newer file: additions
 * to that list made before it dropped, other lists kept), and the admin token.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { tempDir } from '../../helpers/service.js';
import { runCli, spawnServe, waitFor, type SpawnedServer } from '../../helpers/spawn-cli.js';
import { DAY_MS } from '../../../src/core/time.js';
import { fr, writeNumbers } from '../../helpers/list-files.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const running: SpawnedServer[] = [];

async function serve(args: readonly string[]): Promise<{ server: SpawnedServer; url: string; client: CheckClient }> {
  const server = await spawnServe(args);
  running.push(server);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${server.port}/readyz`)).status === 200, 'readiness');
  const client = await CheckClient.connect(`ws://127.0.0.1:${server.port}`);
  return { server, url: `http://127.0.0.1:${server.port}`, client };
}

async function stop(s: { server: SpawnedServer; client: CheckClient }): Promise<void> {
  await s.client.close();
  s.server.child.kill('SIGTERM');
  expect(await s.server.exited).toBe(0);
}

afterEach(async () => {
  for (const s of running.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill('SIGKILL');
      await s.exited;
    }
  }
});

async function verdict(client: CheckClient, i: number): Promise<string> {
  const r = await client.request({ op: 'check', number: fr(i) });
  return `${String(r['verdict'])}/${String(r['reason'])}`;
}

describe('intraday opt-outs in embedded mode (spawned CLI)', () => {
  it('add/remove/block/unblock take effect at once, survive restarts, and a newer file supersedes older additions to its list', async () => {
    const dir = tempDir();
    const file = join(dir, 'bloctel.txt');
    const journal = join(dir, 'journal.jsonl');
    writeNumbers(file, [0, 1, 2, 3, 4], Date.now() - 2 * DAY_MS);
    const config = join(dir, 'callgate.json');
    writeFileSync(config, JSON.stringify({ lists: [{ name: 'bloctel', kind: 'deny', source: 'bloctel.txt' }, { name: 'internal', kind: 'deny' }] }));
    const args = ['--config', config, '--journal', journal];

    let s = await serve(args);
    const change = async (...argv: string[]): Promise<string> => {
      const r = await runCli([...argv, '--url', s.url, '--who', 'agent-7']);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };

    expect(await verdict(s.client, 100)).toBe('allow/not_listed');
    expect(await change('list', 'add', 'internal', fr(100))).toMatch(/^internal: add 1 number\(s\) at \S+ by agent-7$/);
    expect(await verdict(s.client, 100)).toBe('block/internal');
    expect(await change('block', fr(101), '+33 6 10 00 01 02')).toMatch(/^internal: add 2 number\(s\)/);
    expect(await verdict(s.client, 101)).toBe('block/internal');
    expect(await verdict(s.client, 102)).toBe('block/internal');
    expect(await change('unblock', fr(101))).toMatch(/^internal: remove 1 number\(s\)/);
    expect(await verdict(s.client, 101)).toBe('allow/not_listed');
    expect(await change('list', 'remove', 'internal', fr(100))).toMatch(/^internal: remove 1/);
    expect(await verdict(s.client, 100)).toBe('allow/not_listed');

    // An addition to the sourced list blocks at once, with that list as reason.
    expect(await change('list', 'add', 'bloctel', fr(200))).toMatch(/^bloctel: add 1/);
    expect(await verdict(s.client, 200)).toBe('block/bloctel');
    // Removing a number the FILE lists changes nothing: intraday removals only undo intraday additions,
    // and the CLI says so (exit 1) instead of reporting a removal.
    const kept = await runCli(['list', 'remove', 'bloctel', fr(1), '--url', s.url, '--who', 'agent-7']);
    expect(kept.code).toBe(1);
    expect(kept.stdout).toMatch(/^bloctel: 1 number\(s\) still listed by file generation \S+, not removed: /);
    expect(await verdict(s.client, 1)).toBe('block/bloctel');

    // Bad input: nothing changed, exit 1.
    const bad = await runCli(['list', 'add', 'internal', fr(300), 'garbage', '--url', s.url]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\[invalid_number\]/);
    expect(await verdict(s.client, 300)).toBe('allow/not_listed');
    const unknown = await runCli(['list', 'add', 'nope', fr(300), '--url', s.url]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/\[unknown_list\]/);

    // Restart, same file: every addition survives, every removal too.
    await stop(s);
    s = await serve(args);
    expect(await verdict(s.client, 100)).toBe('allow/not_listed');
    expect(await verdict(s.client, 101)).toBe('allow/not_listed');
    expect(await verdict(s.client, 102)).toBe('block/internal');
    expect(await verdict(s.client, 200)).toBe('block/bloctel');
    expect(await verdict(s.client, 1)).toBe('block/bloctel');

    // A new export of bloctel lands (dated now); one more opt-out is recorded after it.
    await sleep(20);
    writeNumbers(file, [0, 1, 2, 3, 4, 5], Date.now());
    await sleep(20);
    await change('list', 'add', 'bloctel', fr(201));
    await change('block', fr(103));

    // Restart with the new file: bloctel's additions older than the file are dropped, newer ones and internal's stay.
    await stop(s);
    s = await serve(args);
    expect(await verdict(s.client, 5)).toBe('block/bloctel');
    expect(await verdict(s.client, 200)).toBe('allow/not_listed');
    expect(await verdict(s.client, 201)).toBe('block/bloctel');
    expect(await verdict(s.client, 102)).toBe('block/internal');
    expect(await verdict(s.client, 103)).toBe('block/internal');
    // And once more with the same (new) file: nothing else dropped.
    await stop(s);
    s = await serve(args);
    expect(await verdict(s.client, 200)).toBe('allow/not_listed');
    expect(await verdict(s.client, 201)).toBe('block/bloctel');
    expect(await verdict(s.client, 102)).toBe('block/internal');
    await stop(s);
  });

  it('a refresh with a newer file, while running, drops the additions it supersedes', async () => {
    const dir = tempDir();
    const file = join(dir, 'bloctel.txt');
    writeNumbers(file, [0, 1, 2, 3, 4], Date.now() - DAY_MS);
    const s = await serve(['--list', `bloctel=${file}`, '--journal', join(dir, 'journal.jsonl')]);
    const r = await runCli(['list', 'add', 'bloctel', fr(200), fr(202), '--url', s.url]);
    expect(r.code).toBe(0);
    expect(await verdict(s.client, 200)).toBe('block/bloctel');
    await sleep(20);
    writeNumbers(file, [0, 1, 2, 3, 4, 5], Date.now());
    await sleep(20);
    // Recorded again after the new file was exported: the file cannot hold it, it must stay.
    expect((await runCli(['list', 'add', 'bloctel', fr(202), '--url', s.url])).code).toBe(0);
    const refreshed = await runCli(['refresh', '--url', s.url]);
    expect(refreshed.code).toBe(0);
    expect(await verdict(s.client, 5)).toBe('block/bloctel');
    expect(await verdict(s.client, 200)).toBe('allow/not_listed');
    expect(await verdict(s.client, 202)).toBe('block/bloctel');
    // No block list configured: block answers 409.
    const block = await runCli(['block', fr(300), '--url', s.url]);
    expect(block.code).toBe(1);
    expect(block.stderr).toMatch(/\[no_block_list\]/);
    await stop(s);
  });
});

describe('the admin token', () => {
  it('without it: 401 and the CLI exits non-zero; with it: 200', async () => {
    const dir = tempDir();
    const file = join(dir, 'bloctel.txt');
    writeNumbers(file, [0, 1], Date.now() - DAY_MS);
    const config = join(dir, 'callgate.json');
    writeFileSync(config, JSON.stringify({ lists: [{ name: 'bloctel', source: 'bloctel.txt' }, { name: 'internal', kind: 'deny' }] }));
    const s = await serve(['--config', config, '--admin-token', 'T0ken']);

    for (const path of ['/admin/refresh', '/admin/block', '/admin/lists/add']) {
      const res = await fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ list: 'internal', numbers: [fr(100)] }) });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
      const wrong = await fetch(`${s.url}${path}`, { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body: JSON.stringify({ list: 'internal', numbers: [fr(100)] }) });
      expect(wrong.status).toBe(401);
    }
    const noToken = await runCli(['block', fr(100), '--url', s.url]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/\[unauthorized\]/);
    const refreshNoToken = await runCli(['refresh', '--url', s.url]);
    expect(refreshNoToken.code).toBe(1);
    expect(await verdict(s.client, 100)).toBe('allow/not_listed');

    const withToken = await runCli(['block', fr(100), '--url', s.url, '--token', 'T0ken']);
    expect(withToken.code).toBe(0);
    expect(await verdict(s.client, 100)).toBe('block/internal');
    const fromEnv = await runCli(['refresh', '--url', s.url], { CALLGATE_ADMIN_TOKEN: 'T0ken' });
    expect(fromEnv.code).toBe(0);
    const res = await fetch(`${s.url}/admin/unblock`, { method: 'POST', headers: { authorization: 'Bearer T0ken', 'content-type': 'application/json' }, body: JSON.stringify({ numbers: [fr(100)] }) });
    expect(res.status).toBe(200);
    expect(await verdict(s.client, 100)).toBe('allow/not_listed');
    await stop(s);
  });
});
