/**
 * Issue 11, item 7: stored formats are versioned. This build reads format 1 (what callgate wrote before versions:
 * no version field, one bucket count for every part) and refuses anything newer than FORMAT_VERSION — the fleet's
 * format key, a marker, a change-stream entry — by blocking every check (not_ready) and raising an alert, never
 * by reading it as if it were its own format. Shared Redis, a unique prefix per case (no CONFIG is sent).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { NumberFilter } from '../../../src/lists/bloom.js';
import { NORMALISER_VERSION } from '../../../src/numbers/normalise.js';
import { e164ToKey } from '../../../src/numbers/number-key.js';
import { CHANGE_FORMAT_FIELD, FORMAT_VERSION, encodeMarker } from '../../../src/redis/codecs.js';
import { bucketCount, bucketIdOf, memberOf } from '../../../src/redis/bucketing.js';
import { bucketKey, changesKey, filterKey, formatKey, gensKey, listsKey, markerKey, pointerKey } from '../../../src/redis/keys.js';
import { newGenerationId } from '../../../src/lists/generation.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { redisCli } from '../../helpers/redis-server.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { tempDir, writeList } from '../../helpers/service.js';
import { waitFor } from '../../helpers/spawn-cli.js';

const LISTED = ['+33612345678', '+33750000001', '+447911123456'];
const UNLISTED = '+33612345679';

/** SET key value with a binary value, through redis-cli -x (stdin as the last argument, byte for byte). */
function setBinary(key: string, value: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const proc = spawn('redis-cli', ['-u', SHARED_REDIS_URL, '-x', 'SET', key], { stdio: ['pipe', 'ignore', 'inherit'] });
    proc.once('error', reject);
    proc.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli -x SET exited ${code}`))));
    proc.stdin.end(value);
  });
}

/** Writes and switches to a generation exactly as callgate wrote them before format versions (format 1, layout 1). */
async function writeFormat1(prefix: string, list: string, numbers: readonly string[]): Promise<string> {
  const keys = numbers.map(e164ToKey).sort((a, b) => a - b);
  const buckets = bucketCount(keys.length);
  const generation = newGenerationId(Date.now(), randomBytes(4));
  const filter = NumberFilter.create(keys.length, 1e-6);
  for (const k of keys) filter.add(k);
  const binary = filter.toBinary();
  const commands = keys.map((k) => `SADD ${bucketKey(prefix, list, generation, bucketIdOf(k, buckets))} ${memberOf(k)}`);
  const marker = encodeMarker({
    list,
    kind: 'deny',
    generation,
    count: keys.length,
    normaliserVersion: NORMALISER_VERSION,
    hashId: filter.hashId,
    fingerprint: 'a'.repeat(64),
    buckets,
    createdAt: new Date().toISOString(),
    filterBytes: binary.length,
    layout: 1,
    format: 1,
  });
  expect(marker['format']).toBeUndefined();
  commands.push(`ZADD ${gensKey(prefix, list)} ${Date.now()} ${generation}`);
  commands.push(`HSET ${markerKey(prefix, list, generation)} ${Object.entries(marker).flat().join(' ')}`);
  commands.push(`SET ${pointerKey(prefix, list)} ${generation}`, `SADD ${listsKey(prefix)} ${list}`);
  await setBinary(filterKey(prefix, list, generation), binary);
  await redisCli(SHARED_REDIS_URL, [], commands.join('\n'));
  return generation;
}

describe('stored format versions (shared Redis)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function sidecar(args: readonly string[]): Promise<{ prefix: string; svc: Awaited<ReturnType<typeof startRedisMode>>; client: CheckClient }> {
    const prefix = uniquePrefix();
    cleanups.push(() => deletePrefix(SHARED_REDIS_URL, prefix));
    const svc = await startRedisMode(SHARED_REDIS_URL, prefix, args);
    cleanups.push(() => svc.stop());
    const client = await CheckClient.connect(svc.url);
    cleanups.push(() => client.close());
    return { prefix, svc, client };
  }

  async function expectAll(client: CheckClient, verdict: string, reason: string, numbers: readonly string[]): Promise<void> {
    for (const number of numbers) expect(await client.request({ op: 'check', number })).toMatchObject({ verdict, reason });
  }

  it('serves a generation written in format 1 (no version field), and raises the fleet format key to its own', async () => {
    const prefix = uniquePrefix();
    cleanups.push(() => deletePrefix(SHARED_REDIS_URL, prefix));
    await writeFormat1(prefix, 'bloctel', LISTED);
    const svc = await startRedisMode(SHARED_REDIS_URL, prefix, []);
    cleanups.push(() => svc.stop());
    const client = await CheckClient.connect(svc.url);
    cleanups.push(() => client.close());
    await expectAll(client, 'block', 'bloctel', LISTED);
    await expectAll(client, 'allow', 'not_listed', [UNLISTED]);
    expect(await redisCli(SHARED_REDIS_URL, ['GET', formatKey(prefix)])).toBe(String(FORMAT_VERSION));
  });

  async function listed(): Promise<string[]> {
    return ['--list', `bloctel=${writeList(LISTED, 'bloctel.txt', tempDir())}`];
  }

  it('a newer fleet format key blocks every check (not_ready) and alerts while it lasts', async () => {
    const { prefix, svc, client } = await sidecar(await listed());
    await expectAll(client, 'block', 'bloctel', LISTED);
    await redisCli(SHARED_REDIS_URL, ['SET', formatKey(prefix), String(FORMAT_VERSION + 1)]);
    const alert = await waitFor(() => svc.alerts.active().find((a) => a.id === 'redis_format'), 'format alert');
    expect(alert).toMatchObject({ kind: 'redis_format', severity: 'critical' });
    // Even a Bloom miss: the newer data may list it.
    await expectAll(client, 'block', 'not_ready', [...LISTED, UNLISTED]);
    const ready = await fetch(`http://127.0.0.1:${svc.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { lists: Array<{ lastError: string }> }).lists[0]?.lastError).toMatch(/^CALLGATE_ERR_FORMAT/);
    // The newer writer rolled back (the key lowered by an operator): served again.
    await redisCli(SHARED_REDIS_URL, ['SET', formatKey(prefix), String(FORMAT_VERSION)]);
    await waitFor(async () => (await client.request({ op: 'check', number: LISTED[0] as string }))['reason'] === 'bloctel', 'served again');
    await expectAll(client, 'allow', 'not_listed', [UNLISTED]);
    expect(svc.alerts.active().map((a) => a.id)).not.toContain('redis_format');
  });

  it('a change-stream entry of a newer format is not skipped: every check blocks and an alert is raised', async () => {
    const { prefix, svc, client } = await sidecar(await listed());
    await expectAll(client, 'allow', 'not_listed', [UNLISTED]);
    // A newer sidecar's opt-out: its fields may mean something else to this build.
    await redisCli(SHARED_REDIS_URL, [
      'XADD', changesKey(prefix), '*', 'list', 'bloctel', 'op', 'add', 'keys', String(e164ToKey(UNLISTED)), 'who', 'newer', 'at', new Date().toISOString(),
      CHANGE_FORMAT_FIELD, String(FORMAT_VERSION + 1),
    ]);
    await waitFor(() => svc.alerts.active().find((a) => a.id === 'redis_format'), 'format alert');
    await expectAll(client, 'block', 'not_ready', [UNLISTED, ...LISTED]);
  });

  it('a current marker of a newer format is not read: every check blocks and an alert is raised', async () => {
    const { prefix, svc, client } = await sidecar(await listed());
    const generation = svc.registry.slot('bloctel')?.state?.generation as string;
    await redisCli(SHARED_REDIS_URL, ['HSET', markerKey(prefix, 'bloctel', generation), 'format', String(FORMAT_VERSION + 1)]);
    await waitFor(() => svc.alerts.active().find((a) => a.id === 'redis_format'), 'format alert');
    await expectAll(client, 'block', 'not_ready', [UNLISTED, ...LISTED]);
  });
});
