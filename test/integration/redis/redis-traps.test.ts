/**
 * Start-up traps of Redis mode (#12 item 5): a dead process's refresh lock, a list loaded with another
 * kind than the sidecar's, an unreadable name in the list registry, an undecodable change in the stream,
 * and cold scripts. Each used to block a floor (or allow what it should not) until someone noticed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { e164ToKey } from '../../../src/numbers/number-key.js';
import { addedKey, changesKey, listsKey } from '../../../src/redis/keys.js';
import { RedisStore } from '../../../src/redis/store.js';
import { scriptDigests } from '../../../src/redis/scripts.js';
import type { RunningService } from '../../../src/service.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { redisCli, startPrivateRedis, type PrivateRedis } from '../../helpers/redis-server.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { tempDir } from '../../helpers/service.js';
import { runCli, waitFor } from '../../helpers/spawn-cli.js';
import { readyz } from '../../helpers/endpoints.js';

function numbers(count: number): string {
  return `${Array.from({ length: count }, (_, i) => `0${620_000_000 + i}`).join('\n')}\n`;
}

const prefixes: string[] = [];
const running: RunningService[] = [];
const clients: CheckClient[] = [];
const stores: RedisStore[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of running.splice(0)) await s.stop();
  for (const s of stores.splice(0)) await s.close();
});
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(SHARED_REDIS_URL, p);
});

function prefix(): string {
  const p = uniquePrefix('traps');
  prefixes.push(p);
  return p;
}

async function connect(url: string): Promise<CheckClient> {
  const c = await CheckClient.connect(url);
  clients.push(c);
  return c;
}

async function start(url: string, p: string, args: readonly string[]): Promise<Awaited<ReturnType<typeof startRedisMode>>> {
  const svc = await startRedisMode(url, p, args);
  running.push(svc);
  return svc;
}

describe('a refresh lock left by a dead process', () => {
  it('is waited out: the list loads when the lock expires, with an alert and a /readyz reason meanwhile', async () => {
    const p = prefix();
    const file = join(tempDir(), 'bloctel.txt');
    writeFileSync(file, numbers(200));
    // A loader that took the lock and died: never renewed, never released.
    const dead = await RedisStore.connect({ url: SHARED_REDIS_URL, prefix: p });
    stores.push(dead);
    expect(await dead.locks.acquireLock('refresh:bloctel', 8000)).not.toBeNull();

    const svc = await start(SHARED_REDIS_URL, p, ['--list', `bloctel=${file}`]);
    const waiting = await readyz(svc.port);
    expect(waiting.status).toBe(503);
    expect(waiting.body.lists.find((l) => l.name === 'bloctel')?.reason).toMatchObject({ code: 'busy', list: 'bloctel' });
    expect(waiting.body.alerts.find((a) => a.id === 'list_not_loaded:bloctel')).toMatchObject({ severity: 'critical', details: { code: 'busy' } });

    await waitFor(async () => (await readyz(svc.port)).status === 200, 'the list loaded once the dead lock expired');
    const c = await connect(svc.url);
    expect(await c.request({ op: 'check', number: '0620000005' })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
    expect((await readyz(svc.port)).body.alerts.map((a) => a.id)).not.toContain('list_not_loaded:bloctel');
  });
});

describe('a list loaded with another kind', () => {
  it('is not taken over by a consent sidecar; `callgate load --kind allow` states the kind', async () => {
    const p = prefix();
    const dir = tempDir();
    const file = join(dir, 'consents.txt');
    writeFileSync(file, numbers(200));
    const env = { CALLGATE_REDIS_URL: SHARED_REDIS_URL, CALLGATE_REDIS_PREFIX: p };
    // The operator's slip: NAME=PATH is a deny-list.
    expect((await runCli(['load', `consents=${file}`], env)).code).toBe(0);

    const config = join(dir, 'callgate.json');
    writeFileSync(config, JSON.stringify({ lists: [{ name: 'bloctel', kind: 'deny' }, { name: 'consents', kind: 'allow', role: 'consent' }] }));
    const svc = await start(SHARED_REDIS_URL, p, ['--config', config]);
    const r = await readyz(svc.port);
    expect(r.status).toBe(503);
    expect(r.body.lists.find((l) => l.name === 'consents')).toMatchObject({ loaded: false, reason: { list: 'consents' } });
    expect(r.body.alerts.find((a) => a.id === 'generation_kind:consents')).toMatchObject({ severity: 'critical', details: { code: 'CALLGATE_ERR_LIST_KIND', storedKind: 'deny' } });

    // Loading the right kind over the wrong one needs --force; then the sidecar takes it over.
    const refused = await runCli(['load', '--kind', 'allow', `consents=${file}`], env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/\[CALLGATE_ERR_LIST_KIND\]/);
    expect((await runCli(['load', '--kind', 'allow', '--role', 'consent', '--force', `consents=${file}`], env)).code).toBe(0);
    await waitFor(async () => (await readyz(svc.port)).status === 200, 'the consent list taken over once loaded as one');
    expect((await readyz(svc.port)).body.alerts.map((a) => a.id)).not.toContain('generation_kind:consents');
  });
});

describe('a discovering sidecar and a bad name in the list registry', () => {
  it('blocks every check, alerts, keeps polling, and recovers when the name is removed', async () => {
    const p = prefix();
    const file = join(tempDir(), 'bloctel.txt');
    writeFileSync(file, numbers(200));
    expect((await runCli(['load', `bloctel=${file}`], { CALLGATE_REDIS_URL: SHARED_REDIS_URL, CALLGATE_REDIS_PREFIX: p })).code).toBe(0);
    await redisCli(SHARED_REDIS_URL, ['SADD', listsKey(p), 'Bad Name']);

    const svc = await start(SHARED_REDIS_URL, p, []);
    const c = await connect(svc.url);
    const r = await readyz(svc.port);
    expect(r.status).toBe(503);
    expect(r.body.reasons.map((x) => x.code)).toContain('list_registry');
    expect(r.body.alerts.find((a) => a.id === 'list_registry:Bad Name')).toMatchObject({ kind: 'list_registry', severity: 'critical' });
    // It may be a real list: nothing is allowed while it cannot be read.
    expect(await c.request({ op: 'check', number: '0640000000' })).toMatchObject({ verdict: 'block', reason: 'not_ready' });

    await redisCli(SHARED_REDIS_URL, ['SREM', listsKey(p), 'Bad Name']);
    await waitFor(async () => (await readyz(svc.port)).status === 200, 'ready once the bad name is gone');
    expect(await c.request({ op: 'check', number: '0640000000' })).toMatchObject({ verdict: 'allow', reason: 'not_listed' });
    expect(await c.request({ op: 'check', number: '0620000009' })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
  });
});

describe('an intraday change that cannot be decoded', () => {
  it('makes the sidecar read the additions again instead of skipping them', async () => {
    const p = prefix();
    const config = join(tempDir(), 'callgate.json');
    writeFileSync(config, JSON.stringify({ lists: [{ name: 'internal', kind: 'deny' }] }));
    const svc = await start(SHARED_REDIS_URL, p, ['--config', config]);
    const c = await connect(svc.url);
    expect(await c.request({ op: 'check', number: '0650000001' })).toMatchObject({ verdict: 'allow' });
    // An addition whose stream entry this build cannot read (written by a newer one, or damaged).
    const key = e164ToKey('+33650000001');
    await redisCli(SHARED_REDIS_URL, ['ZADD', addedKey(p, 'internal'), String(Date.now()), String(key)]);
    await redisCli(SHARED_REDIS_URL, ['XADD', changesKey(p), '*', 'list', 'internal', 'op', 'add', 'keys', `v2:${key}`, 'who', 'newer-build', 'at', new Date().toISOString()]);
    await waitFor(async () => (await c.request({ op: 'check', number: '0650000001' }))['reason'] === 'internal', 'the addition seen after a reseed');
  });
});

describe('warm-up before ready', () => {
  let redis: PrivateRedis | null = null;
  afterAll(async () => {
    await redis?.stop();
  });

  it('loads the check scripts into Redis before /readyz says ready', async () => {
    redis = await startPrivateRedis();
    const file = join(tempDir(), 'bloctel.txt');
    writeFileSync(file, numbers(200));
    const svc = await start(redis.url, 'warm:', ['--list', `bloctel=${file}`]);
    await waitFor(async () => (await readyz(svc.port)).status === 200, 'ready');
    const digests = scriptDigests();
    const exists = await redis.cli('SCRIPT', 'EXISTS', digests['cgConfirm'] as string, digests['cgDecide'] as string);
    expect(exists.split('\n').map((l) => l.trim())).toEqual(['1', '1']);
  });
});
