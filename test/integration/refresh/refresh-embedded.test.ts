/**
 * Embedded mode's refresh end to end: POST /admin/refresh and `callgate refresh`, the guards (empty,
 * shrunk, too many bad lines, --force), refusal alerts in /api/alerts and /readyz, a swap under traffic
 * with no wrong verdict, and staleness (stale_list, list_stale / list_ageing alerts).
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/supervision/alerts.js';
import type { RefreshOutcome } from '../../../src/refresh/refresh.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { startEmbedded, tempDir } from '../../helpers/service.js';
import { runCli } from '../../helpers/spawn-cli.js';
import { alerts } from '../../helpers/endpoints.js';
import { DAY_MS } from '../../../src/core/time.js';
import { fr, range } from '../../helpers/list-files.js';


function e164(i: number): string {
  return `+33${610_000_000 + i}`;
}

/** Writes a list file and dates it (mtime) so that a rewrite is always seen as changed. */
function writeNumbers(path: string, indexes: readonly number[], extra: readonly string[] = [], mtimeMs = Date.now()): void {
  writeFileSync(path, `${[...indexes.map(fr), ...extra].join('\n')}\n`);
  utimesSync(path, mtimeMs / 1000, mtimeMs / 1000);
}

async function adminRefresh(port: number, query = ''): Promise<{ status: number; outcomes: RefreshOutcome[] }> {
  const res = await fetch(`http://127.0.0.1:${port}/admin/refresh${query}`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  const body = (await res.json()) as { outcomes: RefreshOutcome[] };
  return { status: res.status, outcomes: body.outcomes };
}

async function readyz(port: number): Promise<{ status: number; body: { ready: boolean; alerts: Alert[]; lists: { name: string; generation: string | null; count: number | null }[] } }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
}

async function verdict(client: CheckClient, i: number): Promise<string> {
  const r = await client.request({ op: 'check', number: fr(i) });
  return `${String(r['verdict'])}/${String(r['reason'])}`;
}

describe('embedded refresh over the admin API and the CLI', () => {
  const dir = tempDir();
  const file = join(dir, 'bloctel.txt');
  const OLD = range(0, 100);
  const NEW = range(10, 110);
  let svc: Awaited<ReturnType<typeof startEmbedded>>;
  let client: CheckClient;
  let url: string;
  let mtime = Date.now() - 10 * DAY_MS;
  // Each rewrite one second newer, so the file's validators always change.
  const nextMtime = (): number => (mtime += 1000);

  beforeAll(async () => {
    writeNumbers(file, OLD, [], nextMtime());
    const config = join(dir, 'callgate.json');
    writeFileSync(config, JSON.stringify({ lists: [{ name: 'bloctel', kind: 'deny', source: file }, { name: 'internal', kind: 'deny' }] }));
    svc = await startEmbedded(['--config', config]);
    client = await CheckClient.connect(svc.url);
    url = `http://127.0.0.1:${svc.port}`;
  });

  afterAll(async () => {
    await client?.close();
    await svc?.stop();
  });

  it('loads a changed file: the new generation serves', async () => {
    const before = (await readyz(svc.port)).body.lists.find((l) => l.name === 'bloctel')?.generation;
    expect(await verdict(client, 5)).toBe('block/bloctel');
    expect(await verdict(client, 105)).toBe('allow/not_listed');

    writeNumbers(file, NEW, [], nextMtime());
    const { status, outcomes } = await adminRefresh(svc.port, '?list=bloctel');
    expect(status).toBe(200);
    expect(outcomes).toEqual([expect.objectContaining({ list: 'bloctel', status: 'loaded', trigger: 'admin', previousGeneration: before, unique: 100, duplicates: 0, badLines: 0 })]);
    const gen = outcomes[0]?.generation;
    expect(gen).not.toBe(before);
    expect((await readyz(svc.port)).body.lists.find((l) => l.name === 'bloctel')).toMatchObject({ generation: gen, count: 100 });

    expect(await verdict(client, 105)).toBe('block/bloctel'); // only in the new file
    expect(await verdict(client, 5)).toBe('allow/not_listed'); // only in the old file
    expect(await verdict(client, 50)).toBe('block/bloctel'); // in both
    expect(await verdict(client, 500)).toBe('allow/not_listed'); // in neither
  });

  it('`callgate refresh` on the same file: unchanged, exit 0; every list without --list', async () => {
    const gen = (await readyz(svc.port)).body.lists.find((l) => l.name === 'bloctel')?.generation;
    const r = await runCli(['refresh', '--url', url, '--list', 'bloctel']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(new RegExp(`^bloctel: unchanged \\(generation ${gen}\\) in \\d+\\.\\d s$`));

    const all = await runCli(['refresh', '--url', url]);
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^bloctel: unchanged/);
    expect(lines[1]).toMatch(/^internal: unchanged/);
  });

  it('`callgate refresh` of a changed file prints the loaded generation', async () => {
    writeNumbers(file, NEW, ['# a comment', 'not a number'], nextMtime());
    const r = await runCli(['refresh', '--url', url, '--list', 'bloctel']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^bloctel: loaded generation \S+: 100 numbers \(0 duplicates, 1 bad lines \(first: 102\)\) in \d+\.\d s$/);
  });

  it('refuses an EMPTY file: the old list keeps serving, an alert is raised, exit code non-zero', async () => {
    const gen = (await readyz(svc.port)).body.lists.find((l) => l.name === 'bloctel')?.generation;
    writeFileSync(file, '');
    utimesSync(file, nextMtime() / 1000, mtime / 1000);
    const r = await runCli(['refresh', '--url', url, '--list', 'bloctel']);
    expect(r.code).toBe(1);
    expect(r.stdout.trim()).toMatch(/^bloctel: refused \(empty\): /);

    expect(await verdict(client, 105)).toBe('block/bloctel');
    expect(await verdict(client, 5)).toBe('allow/not_listed');
    const alert = (await alerts(svc.port)).find((a) => a.id === 'refresh_refused:bloctel');
    expect(alert).toMatchObject({ kind: 'refresh_refused', severity: 'critical', list: 'bloctel', details: { code: 'empty' } });
    const ready = await readyz(svc.port);
    expect(ready.status).toBe(200);
    expect(ready.body.lists.find((l) => l.name === 'bloctel')).toMatchObject({ generation: gen, count: 100 });
    expect(ready.body.alerts.map((a) => a.id)).toContain('refresh_refused:bloctel');

    // A file of only garbage is as empty.
    writeNumbers(file, [], ['numero', 'garbage', 'x'], nextMtime());
    const http = await adminRefresh(svc.port, '?list=bloctel');
    expect(http.status).toBe(409);
    expect(http.outcomes[0]).toMatchObject({ status: 'refused', code: 'empty', generation: gen });
  });

  it('refuses a file shrunk by more than 20%, even when re-asked; --force loads it and clears the alert', async () => {
    const gen = (await readyz(svc.port)).body.lists.find((l) => l.name === 'bloctel')?.generation;
    const SHRUNK = range(10, 85); // 75 of 100
    writeNumbers(file, SHRUNK, [], nextMtime());
    const http = await adminRefresh(svc.port, '?list=bloctel');
    expect(http.status).toBe(409);
    expect(http.outcomes[0]).toMatchObject({ status: 'refused', code: 'shrunk', generation: gen });
    expect((await alerts(svc.port)).find((a) => a.id === 'refresh_refused:bloctel')?.details).toMatchObject({ code: 'shrunk' });
    expect(await verdict(client, 100)).toBe('block/bloctel');

    const again = await runCli(['refresh', '--url', url, '--list', 'bloctel']);
    expect(again.code).toBe(1);
    expect(again.stdout.trim()).toMatch(/^bloctel: refused \(shrunk\): /);

    const forced = await runCli(['refresh', '--url', url, '--list', 'bloctel', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout.trim()).toMatch(/^bloctel: loaded generation \S+: 75 numbers .* \[forced over: shrunk\]$/);
    expect(await verdict(client, 100)).toBe('allow/not_listed');
    expect(await verdict(client, 80)).toBe('block/bloctel');
    expect((await alerts(svc.port)).map((a) => a.id)).not.toContain('refresh_refused:bloctel');
    expect((await readyz(svc.port)).body.alerts.map((a) => a.id)).not.toContain('refresh_refused:bloctel');
  });

  it('refuses too many bad lines; a later good refresh clears the alert', async () => {
    const gen = (await readyz(svc.port)).body.lists.find((l) => l.name === 'bloctel')?.generation;
    writeNumbers(file, range(10, 85), ['bad 1', 'bad 2', 'bad 3'], nextMtime());
    const http = await adminRefresh(svc.port, '?list=bloctel');
    expect(http.status).toBe(409);
    expect(http.outcomes[0]).toMatchObject({ status: 'refused', code: 'too_many_bad_lines', generation: gen, badLines: 3 });
    expect((await alerts(svc.port)).map((a) => a.id)).toContain('refresh_refused:bloctel');

    writeNumbers(file, range(10, 90), [], nextMtime());
    const good = await adminRefresh(svc.port, '?list=bloctel');
    expect(good.status).toBe(200);
    expect(good.outcomes[0]).toMatchObject({ status: 'loaded', unique: 80 });
    expect(await alerts(svc.port)).toEqual([]);
    expect(await verdict(client, 88)).toBe('block/bloctel');
  });

  it('answers 404 (CLI exit 1) for an unknown list, and "unchanged" for a list without a source', async () => {
    const unknown = await runCli(['refresh', '--url', url, '--list', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/\[unknown_list\]/);
    const internal = await adminRefresh(svc.port, '?list=internal');
    expect(internal).toMatchObject({ status: 200, outcomes: [{ list: 'internal', status: 'unchanged' }] });
  });

  it('a CLI that cannot reach the sidecar exits 2', async () => {
    const r = await runCli(['refresh', '--url', 'http://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot reach/);
  });
});

describe('a swap under traffic', () => {
  it('gives every check a verdict of the old or the new generation, never a wrong one, never not_ready', async () => {
    const dir = tempDir();
    const file = join(dir, 'bloctel.txt');
    // X and Y share a middle; each has numbers of its own; some numbers are on neither.
    const N = 20_000;
    const X = range(0, N);
    const Y = range(N / 2, N + N / 2);
    let mtime = Date.now() - DAY_MS;
    writeNumbers(file, X, [], mtime);
    const svc = await startEmbedded(['--list', `bloctel=${file}`]);
    const inX = (i: number): boolean => i < N;
    const inY = (i: number): boolean => i >= N / 2 && i < N + N / 2;
    const probes = [...range(0, 300).map((k) => k * 97), ...range(0, 50).map((k) => 2 * N + k)]; // spread over X only, both, Y only, neither
    const clients = await Promise.all([0, 1, 2].map(() => CheckClient.connect(svc.url)));
    let running = true;
    const wrong: string[] = [];
    let checked = 0;
    let notReady = 0;
    const judge = (i: number, r: Record<string, unknown>): void => {
      checked++;
      if (r['reason'] === 'not_ready') notReady++;
      const blocked = r['verdict'] === 'block';
      if (blocked && r['reason'] !== 'bloctel') wrong.push(`${i}: ${JSON.stringify(r)}`);
      else if (blocked && !inX(i) && !inY(i)) wrong.push(`${i} (on neither) blocked`);
      else if (!blocked && inX(i) && inY(i)) wrong.push(`${i} (on both) allowed`);
      if (r['number'] !== e164(i)) wrong.push(`${i}: number ${String(r['number'])}`);
    };
    const hammer = async (client: CheckClient, k: number): Promise<void> => {
      let n = k;
      while (running) {
        if (n % 2 === 0) {
          const batch = range(0, 256).map((j) => probes[(n * 31 + j) % probes.length] as number);
          const r = await client.request({ op: 'check', numbers: batch.map(fr) });
          (r['results'] as Record<string, unknown>[]).forEach((res, j) => judge(batch[j] as number, res));
        } else {
          const singles = range(0, 64).map((j) => probes[(n * 17 + j) % probes.length] as number);
          const replies = await Promise.all(singles.map((i) => client.request({ op: 'check', number: fr(i) })));
          replies.forEach((res, j) => judge(singles[j] as number, res));
        }
        n++;
      }
    };
    try {
      const traffic = clients.map((c, k) => hammer(c, k));
      const generations = new Set<string>();
      for (let round = 0; round < 6; round++) {
        writeNumbers(file, round % 2 === 0 ? Y : X, [], (mtime += 1000));
        const { status, outcomes } = await adminRefresh(svc.port);
        expect(status).toBe(200);
        expect(outcomes[0]?.status).toBe('loaded');
        generations.add(outcomes[0]?.generation as string);
      }
      running = false;
      await Promise.all(traffic);
      expect(generations.size).toBe(6);
      expect(notReady).toBe(0);
      expect(wrong.slice(0, 10)).toEqual([]);
      expect(checked).toBeGreaterThan(1000);
      console.log(`swap under traffic: ${checked} verdicts over 6 refreshes, 0 wrong`);
      // The last file was X.
      expect(await verdict(clients[0] as CheckClient, 0)).toBe('block/bloctel');
      expect(await verdict(clients[0] as CheckClient, N + 1)).toBe('allow/not_listed');
    } finally {
      running = false;
      await Promise.all(clients.map((c) => c.close()));
      await svc.stop();
    }
  });
});

describe('staleness', () => {
  it('a file 31 days old: every check blocks with stale_list, alert list_stale (critical)', async () => {
    const file = join(tempDir(), 'bloctel.txt');
    writeNumbers(file, range(0, 10), [], Date.now() - 31 * DAY_MS);
    const svc = await startEmbedded(['--list', `bloctel=${file}`]);
    const client = await CheckClient.connect(svc.url);
    try {
      expect(await client.request({ op: 'check', number: fr(500) })).toMatchObject({ verdict: 'block', reason: 'stale_list', number: e164(500) });
      expect(await client.request({ op: 'check', number: fr(1) })).toMatchObject({ verdict: 'block', reason: 'stale_list' });
      const batch = await client.request({ op: 'check', numbers: [fr(500), 'garbage'] });
      expect(batch['results']).toEqual([
        { number: e164(500), verdict: 'block', reason: 'stale_list' },
        { number: null, verdict: 'block', reason: 'invalid_number' },
      ]);
      expect(await alerts(svc.port)).toEqual([expect.objectContaining({ id: 'list_stale:bloctel', kind: 'list_stale', severity: 'critical', list: 'bloctel' })]);
      expect((await readyz(svc.port)).body.alerts.map((a) => a.id)).toEqual(['list_stale:bloctel']);
    } finally {
      await client.close();
      await svc.stop();
    }
  });

  it('a file 27 days old (warnDays 5): checks answer, alert list_ageing (warning)', async () => {
    const file = join(tempDir(), 'bloctel.txt');
    writeNumbers(file, range(0, 10), [], Date.now() - 27 * DAY_MS);
    const svc = await startEmbedded(['--list', `bloctel=${file}`]);
    const client = await CheckClient.connect(svc.url);
    try {
      expect(await verdict(client, 500)).toBe('allow/not_listed');
      expect(await verdict(client, 1)).toBe('block/bloctel');
      expect(await alerts(svc.port)).toEqual([expect.objectContaining({ id: 'list_ageing:bloctel', kind: 'list_ageing', severity: 'warning' })]);
    } finally {
      await client.close();
      await svc.stop();
    }
  });

  it('with the injected clock: fresh, then stale 31 days later, fresh again after refreshing a newer file', async () => {
    const file = join(tempDir(), 'bloctel.txt');
    const start = Date.now();
    let clock = start;
    writeNumbers(file, range(0, 10), [], start - DAY_MS);
    const svc = await startEmbedded(['--list', `bloctel=${file}`], {}, { now: () => clock });
    const client = await CheckClient.connect(svc.url);
    try {
      expect(await verdict(client, 500)).toBe('allow/not_listed');
      expect(await alerts(svc.port)).toEqual([]);
      clock = start + 30 * DAY_MS; // the file is now 31 days old
      expect(await verdict(client, 500)).toBe('block/stale_list');
      // Same file again: unchanged, still stale.
      const same = await adminRefresh(svc.port);
      expect(same.outcomes[0]?.status).toBe('unchanged');
      expect((await alerts(svc.port)).map((a) => a.id)).toEqual(['list_stale:bloctel']);
      // A newer export (dated 1 day before "now"): loaded, fresh, alert cleared.
      writeNumbers(file, range(0, 10), [], clock - DAY_MS);
      const fresh = await adminRefresh(svc.port);
      expect(fresh.outcomes[0]?.status).toBe('loaded');
      expect(await verdict(client, 500)).toBe('allow/not_listed');
      expect(await alerts(svc.port)).toEqual([]);
    } finally {
      await client.close();
      await svc.stop();
    }
  });
});
