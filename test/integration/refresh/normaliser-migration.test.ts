/**
 * A normaliser version change (n1 → n2: rule 9 of numbers/normalise.ts) meets what the previous version
 * stored. n1 read the line or the `list add` of '687751234' as +33687751234 only. After the upgrade:
 * a list with a source is read again from it (both readings listed); a list without a source keeps
 * its entries, gets a generation of the new version, and lists the readings n1 missed; nothing is
 * served from the old generation as if it were new, and no entry is lost.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NumberFilter } from '../../../src/lists/bloom.js';
import { LIBPHONENUMBER_VERSION } from '../../../src/numbers/phone-metadata.js';
import { NORMALISER_VERSION } from '../../../src/numbers/normalise.js';
import { RedisStore } from '../../../src/redis/store.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { startEmbedded, tempDir } from '../../helpers/service.js';

const N1 = `n1/lpn-${LIBPHONENUMBER_VERSION}`;

function config(dir: string): string {
  const bloctel = join(dir, 'bloctel.txt');
  writeFileSync(bloctel, '508411234\n0699999999\n');
  const path = join(dir, 'callgate.json');
  writeFileSync(path, JSON.stringify({ lists: [{ name: 'bloctel', kind: 'deny', source: bloctel }, { name: 'internal', kind: 'deny' }] }));
  return path;
}

describe('normaliser version migration', () => {
  const prefix = uniquePrefix('cgtest-nmig');
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  it('Redis mode: n1 generations (with and without a source) are migrated, entries kept, missed readings listed', async () => {
    const dir = tempDir();
    const store = await RedisStore.connect({ url: SHARED_REDIS_URL, prefix });
    try {
      const filter = (keys: readonly number[]): NumberFilter => {
        const f = NumberFilter.create(Math.max(1, keys.length), 0.001);
        for (const k of keys) f.add(k);
        return f;
      };
      // What an n1 fleet left: bloctel read from its file as +33508411234 only; internal empty, its opt-out intraday.
      const old = filter([33508411234, 33699999999]);
      const bloctel = await store.generations.writeGeneration({ list: 'bloctel', kind: 'deny', keys: Float64Array.from([33508411234, 33699999999]), filter: old.toBinary(), normaliserVersion: N1, hashId: old.hashId, fingerprint: 'a'.repeat(64) });
      await store.generations.switchCurrent('bloctel', bloctel.generation);
      const empty = filter([]);
      await store.generations.ensureEmptyGeneration('internal', 'deny', { normaliserVersion: N1, hashId: empty.hashId, filter: empty.toBinary() });
      await store.intraday.addIntraday('internal', [33687751234], { who: 'agent-7' });

      const svc = await startRedisMode(SHARED_REDIS_URL, prefix, ['--config', config(dir)]);
      const client = await CheckClient.connect(svc.url);
      try {
        for (const list of ['bloctel', 'internal']) expect((await store.generations.readCurrent(list))?.normaliserVersion).toBe(NORMALISER_VERSION);
        // Not lost: the n1 entries still block.
        expect(await client.request({ op: 'check', number: '0508411234' })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
        expect(await client.request({ op: 'check', number: '0687751234' })).toMatchObject({ verdict: 'block', reason: 'internal' });
        // The readings n1 missed are listed now.
        expect(await client.request({ op: 'check', number: '+508411234' })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
        expect(await client.request({ op: 'check', number: '+687751234' })).toMatchObject({ verdict: 'block', reason: 'internal' });
        expect((await store.intraday.readIntraday('internal')).map((e) => e.key).sort((a, b) => a - b)).toEqual([687751234, 33687751234]);
      } finally {
        await client.close();
        await svc.stop();
      }
    } finally {
      await store.close();
    }
  });

  it('Redis mode: a generation of a NEWER normaliser revision is never rewritten by this build', async () => {
    const p = uniquePrefix('cgtest-nmig');
    const store = await RedisStore.connect({ url: SHARED_REDIS_URL, prefix: p });
    try {
      const empty = NumberFilter.create(1, 0.001);
      const newer = `n99/lpn-${LIBPHONENUMBER_VERSION}`;
      await store.generations.ensureEmptyGeneration('internal', 'deny', { normaliserVersion: newer, hashId: empty.hashId, filter: empty.toBinary() });
      const dir = tempDir();
      const path = join(dir, 'callgate.json');
      writeFileSync(path, JSON.stringify({ lists: [{ name: 'internal', kind: 'deny' }] }));
      // Fails closed: it cannot read the newer generation, serves nothing from it, and leaves it as it is.
      const svc = await startRedisMode(SHARED_REDIS_URL, p, ['--config', path]);
      const client = await CheckClient.connect(svc.url);
      try {
        expect(await client.request({ op: 'check', number: '0612345678' })).toMatchObject({ verdict: 'block', reason: 'not_ready' });
      } finally {
        await client.close();
        await svc.stop();
      }
      expect((await store.generations.readCurrent('internal'))?.normaliserVersion).toBe(newer);
    } finally {
      await store.close();
      await deletePrefix(SHARED_REDIS_URL, p);
    }
  });

  it("embedded mode: a journal's n1 opt-outs keep blocking and also list the reading n1 missed", async () => {
    const dir = tempDir();
    const journalPath = join(dir, 'journal.jsonl');
    writeFileSync(journalPath, `${JSON.stringify({ op: 'add', list: 'internal', keys: [33687751234], who: 'agent-7', at: Date.now() - 60_000 })}\n`);
    const svc = await startEmbedded(['--config', config(dir)], {}, { journalPath });
    const client = await CheckClient.connect(svc.url);
    try {
      expect(await client.request({ op: 'check', number: '0687751234' })).toMatchObject({ verdict: 'block', reason: 'internal' });
      expect(await client.request({ op: 'check', number: '+687751234' })).toMatchObject({ verdict: 'block', reason: 'internal' });
      // Generations are read from their sources at every start: bloctel's bare line lists both readings.
      expect(await client.request({ op: 'check', number: '+508411234' })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
    } finally {
      await client.close();
      await svc.stop();
    }
  });
});
