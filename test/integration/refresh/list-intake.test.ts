/**
 * A list file caught while it is written is never installed (issue 11 item 1), end to end in embedded
 * mode: a refresh during an in-place rewrite by a real writer process, a restart while the file is 20%
 * written, a missing final newline, a manifest mismatch, a --force remembered for that exact file only,
 * and the caps on decompressed size and line length (issue 12 item 6).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/core/errors.js';
import { recordPathOf } from '../../../src/refresh/install-record.js';
import type { RefreshOutcome } from '../../../src/refresh/refresh.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { startEmbedded, tempDir } from '../../helpers/service.js';
import { spawnServe, waitFor, type SpawnedServer } from '../../helpers/spawn-cli.js';
import { alerts } from '../../helpers/endpoints.js';
import { DAY_MS } from '../../../src/core/time.js';
import { fr, range } from '../../helpers/list-files.js';


function text(indexes: readonly number[], extra: readonly string[] = []): string {
  return `${[...indexes.map(fr), ...extra].join('\n')}\n`;
}

/** Writes a list and dates it in the past, so that the settle time is not what a test measures. */
function writeOld(path: string, content: string | Buffer, ageMs = DAY_MS): void {
  writeFileSync(path, content);
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(path, t, t);
}

async function verdict(client: CheckClient, i: number): Promise<string> {
  const r = await client.request({ op: 'check', number: fr(i) });
  return `${String(r['verdict'])}/${String(r['reason'])}`;
}

async function readyz(port: number): Promise<{ status: number; ready: boolean; count: number | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  const body = (await res.json()) as { ready: boolean; lists: { name: string; count: number | null }[] };
  return { status: res.status, ready: body.ready, count: body.lists.find((l) => l.name === 'bloctel')?.count ?? null };
}

async function adminRefresh(port: number, query = ''): Promise<RefreshOutcome> {
  const res = await fetch(`http://127.0.0.1:${port}/admin/refresh?list=bloctel${query}`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  const outcome = ((await res.json()) as { outcomes: RefreshOutcome[] }).outcomes[0];
  if (outcome === undefined) throw new Error('no outcome');
  return outcome;
}

describe('refreshes of a file being written', () => {
  const dir = tempDir();
  const file = join(dir, 'bloctel.txt');
  const OLD = range(0, 1000);
  let svc: Awaited<ReturnType<typeof startEmbedded>>;
  let client: CheckClient;

  beforeAll(async () => {
    writeOld(file, text(OLD));
    // A settle time far above the writer's pauses (30 ms), as nightly exports are above theirs.
    svc = await startEmbedded(['--list', `bloctel=${file}`, '--list-settle-ms', '1500'], {}, { journalPath: join(dir, 'journal.jsonl') });
    client = await CheckClient.connect(svc.url);
  });

  afterAll(async () => {
    await client?.close();
    await svc?.stop();
  });

  it('a refresh during an in-place rewrite by a slow writer process installs nothing partial', async () => {
    // The new list: the old numbers, then 600 more (it grows by 60%, so a prefix passes the shrink guard).
    const full = text([...OLD, ...range(1000, 1600)]);
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const data = Buffer.from(process.argv[2]);
         const fd = fs.openSync(process.argv[1], 'w'); // truncates in place: same inode, as cp or an export job does
         let at = 0;
         const step = () => {
           if (at >= data.length) { fs.closeSync(fd); return; }
           const n = Math.min(173, data.length - at); // chunks cut lines anywhere
           fs.writeSync(fd, data, at, n);
           at += n;
           setTimeout(step, 30);
         };
         step();`,
        file,
        full,
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => writer.once('exit', () => resolve()));
    let done = false;
    void exited.then(() => (done = true));
    const oldSize = statSync(file).size;
    await waitFor(() => statSync(file).size < oldSize, 'the writer to truncate the file');

    const outcomes: RefreshOutcome[] = [];
    let startedDuringWrite = 0;
    for (;;) {
      if (!done) startedDuringWrite++;
      const o = await svc.backend.refresher.refresh('bloctel', { force: false, trigger: 'admin' });
      outcomes.push(o);
      const count = svc.registry.slot('bloctel')?.state?.count;
      // Only the old list or the whole new one ever serves.
      expect([1000, 1600]).toContain(count);
      if (done && o.status === 'loaded') break;
      if (done && o.status === 'unchanged' && count === 1600) break;
    }
    expect(startedDuringWrite).toBeGreaterThan(0);
    for (const o of outcomes) if (o.status === 'loaded') expect(o.unique).toBe(1600);
    expect(await verdict(client, 1599)).toBe('block/bloctel');
    expect(await verdict(client, 0)).toBe('block/bloctel');
  });

  it('a last line without its newline is refused: coded, alerted, the current generation keeps serving', async () => {
    const before = svc.registry.slot('bloctel')?.state?.generation;
    writeOld(file, text(range(0, 1600)) + fr(1700)); // no final newline
    const o = await adminRefresh(svc.port);
    expect(o).toMatchObject({ status: 'refused', code: ErrorCode.LIST_PARTIAL });
    expect(svc.registry.slot('bloctel')?.state?.generation).toBe(before);
    expect((await alerts(svc.port)).find((a) => a.id === 'refresh_refused:bloctel')).toMatchObject({ severity: 'critical', details: expect.objectContaining({ code: ErrorCode.LIST_PARTIAL }) });
    expect(await verdict(client, 1700)).toBe('allow/not_listed');
    expect(await verdict(client, 1599)).toBe('block/bloctel');
  });

  it('a manifest beside the file is honoured: a wrong sha256 or line count refuses it, a right one loads it', async () => {
    const content = text(range(0, 1650));
    const sha = createHash('sha256').update(content).digest('hex');
    writeOld(file, content);
    writeFileSync(`${file}.manifest`, `lines=1650\nsha256=${'0'.repeat(64)}\n`);
    expect(await adminRefresh(svc.port)).toMatchObject({ status: 'refused', code: ErrorCode.LIST_MANIFEST });
    writeFileSync(`${file}.manifest`, `lines=1651\nsha256=${sha}\n`);
    expect(await adminRefresh(svc.port)).toMatchObject({ status: 'refused', code: ErrorCode.LIST_MANIFEST });
    expect(await verdict(client, 1620)).toBe('allow/not_listed');
    writeFileSync(`${file}.manifest`, `# written last by the exporter\nlines=1650\nsha256=${sha}\n`);
    expect(await adminRefresh(svc.port)).toMatchObject({ status: 'loaded', unique: 1650 });
    expect(await verdict(client, 1620)).toBe('block/bloctel');
    rmSync(`${file}.manifest`);
  });

  it('a gzip bomb and an endless line are refused by the caps; the current generation keeps serving', async () => {
    const gz = join(dir, 'bomb.txt.gz');
    await svc.stop();
    await client.close();
    // 64 MiB of blank lines in ~64 KiB of gzip, against a 1 MiB cap; then a 1 MiB line against 4096 characters.
    writeOld(gz, gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x0a)));
    writeOld(file, text(range(0, 1650)));
    svc = await startEmbedded(['--list', `bloctel=${file}`, '--list', `bomb=${gz}`, '--max-list-bytes', String(1024 * 1024)], {}, { journalPath: join(dir, 'journal2.jsonl') });
    client = await CheckClient.connect(svc.url);
    expect(svc.backend.refresher.last('bomb').outcome).toMatchObject({ status: 'refused', code: ErrorCode.LIST_TOO_LARGE });
    writeOld(file, `${text(range(0, 1650))}${'9'.repeat(1024 * 1024)}\n`);
    expect(await adminRefresh(svc.port)).toMatchObject({ status: 'refused', code: ErrorCode.LIST_LINE_TOO_LONG });
    expect(svc.registry.slot('bloctel')?.state?.count).toBe(1650);
    // The refused bomb list is not ready: checks block (not_ready), never allow.
    expect(await verdict(client, 1620)).toMatch(/^block\//);
  });
});

describe('restarts', () => {
  const dir = tempDir();
  const file = join(dir, 'bloctel.txt');
  const journal = join(dir, 'journal.jsonl');
  let server: SpawnedServer | null = null;

  /** Starts the CLI and waits until its start-up load of the list has an outcome (loaded or refused). */
  async function start(): Promise<SpawnedServer> {
    const s = await spawnServe(['--list', `bloctel=${file}`, '--journal', journal, '--list-settle-ms', '200']);
    server = s;
    await waitFor(async () => (await readyz(s.port)).ready || (await alerts(s.port)).some((a) => a.id === 'refresh_refused:bloctel'), 'the start-up load');
    return s;
  }

  async function stop(): Promise<void> {
    if (server === null) return;
    server.child.kill('SIGTERM');
    await server.exited;
    server = null;
  }

  afterAll(stop);

  it('a restart while the file is 20% written does not serve 20% with ready:true; a lost record accepts it with a warning', async () => {
    writeOld(file, text(range(0, 1000)));
    let s = await start();
    expect(await readyz(s.port)).toMatchObject({ status: 200, ready: true, count: 1000 });
    await stop();

    // The writer stopped at a line boundary, 20% in (the worst case: the file ends with a newline).
    writeOld(file, text(range(0, 200)));
    s = await start();
    const r = await readyz(s.port);
    expect(r.ready).toBe(false);
    expect(r.status).toBe(503);
    expect((await alerts(s.port)).find((a) => a.id === 'refresh_refused:bloctel')).toMatchObject({ details: expect.objectContaining({ code: 'shrunk' }) });
    const client = await CheckClient.connect(`ws://127.0.0.1:${s.port}/`);
    try {
      expect(await verdict(client, 900)).not.toMatch(/^allow/);
    } finally {
      await client.close();
    }
    await stop();

    // The record of the last count lost: the file is accepted (it is whole as far as anyone can tell), with a warning.
    rmSync(recordPathOf(journal));
    s = await start();
    expect(await readyz(s.port)).toMatchObject({ ready: true, count: 200 });
    expect((await alerts(s.port)).find((a) => a.id === 'list_baseline_missing:bloctel')).toMatchObject({ severity: 'warning' });
    await stop();
  });

  it('a --force acceptance is remembered across a restart for that exact file, and for no other', async () => {
    rmSync(journal, { force: true });
    rmSync(recordPathOf(journal), { force: true });
    writeOld(file, text(range(0, 1000)));
    let s = await start();
    expect(await readyz(s.port)).toMatchObject({ ready: true, count: 1000 });

    // 5% bad lines: refused; --force takes it.
    const bad = Array.from({ length: 50 }, (_, k) => `not-a-number-${k}`);
    writeOld(file, text(range(0, 1000), bad), DAY_MS - 1000);
    expect(await adminRefresh(s.port)).toMatchObject({ status: 'refused', code: 'too_many_bad_lines' });
    expect(await adminRefresh(s.port, '&force=true')).toMatchObject({ status: 'loaded', overridden: ['too_many_bad_lines'] });
    await stop();

    // The same file after a restart: still accepted.
    s = await start();
    expect(await readyz(s.port)).toMatchObject({ ready: true, count: 1000 });

    // Another file with the same fault: refused, the force does not carry over.
    writeOld(file, text(range(0, 1001), bad), DAY_MS - 2000);
    expect(await adminRefresh(s.port)).toMatchObject({ status: 'refused', code: 'too_many_bad_lines' });
    await stop();
    s = await start();
    expect(await readyz(s.port)).toMatchObject({ ready: false });
    await stop();
  });
});

describe('the record of installed lists', () => {
  it('unreadable (a newer format): start-up refuses to judge the file without it (fail closed); --force takes it and rewrites the record', async () => {
    const dir = tempDir();
    const file = join(dir, 'bloctel.txt');
    const journal = join(dir, 'journal.jsonl');
    writeOld(file, text(range(0, 100)));
    writeFileSync(recordPathOf(journal), JSON.stringify({ format: 'callgate-lists', version: 99, lists: {} }));
    const svc = await startEmbedded(['--list', `bloctel=${file}`], {}, { journalPath: journal });
    try {
      expect(svc.backend.refresher.last('bloctel').outcome).toMatchObject({ status: 'refused', code: 'baseline_unreadable' });
      expect(svc.registry.slot('bloctel')?.state).toBeNull();
      expect(await svc.backend.refresher.refresh('bloctel', { force: true, trigger: 'admin' })).toMatchObject({ status: 'loaded', unique: 100 });
    } finally {
      await svc.stop();
    }
  });
});

describe('Redis mode: the marker is the durable count', () => {
  const prefix = uniquePrefix('intake');
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  it('a sidecar restarting while the file is 20% written keeps serving the whole generation from Redis', async () => {
    const dir = tempDir();
    const file = join(dir, 'bloctel.txt');
    writeOld(file, text(range(0, 1000)));
    let svc = await startRedisMode(SHARED_REDIS_URL, prefix, ['--list', `bloctel=${file}`]);
    expect(svc.registry.slot('bloctel')?.state?.count).toBe(1000);
    await svc.stop();
    await svc.store.close();

    writeOld(file, text(range(0, 200)), DAY_MS - 1000);
    svc = await startRedisMode(SHARED_REDIS_URL, prefix, ['--list', `bloctel=${file}`]);
    try {
      expect(svc.backend.refresher.last('bloctel').outcome).toMatchObject({ status: 'refused', code: 'shrunk' });
      expect(svc.registry.slot('bloctel')?.state?.count).toBe(1000);
      const client = await CheckClient.connect(svc.url);
      try {
        expect(await verdict(client, 900)).toBe('block/bloctel');
      } finally {
        await client.close();
      }
    } finally {
      await svc.stop();
      await svc.store.close();
    }
  });
});

