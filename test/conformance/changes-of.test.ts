/**
 * Conformance of ListBackend.changesOf (backends/list-backend.ts), what `callgate why` says of who made a day's
 * change: ONE table of cases against both implementations — embedded (the journal) and Redis (the change stream,
 * on the shared Redis: unique prefix per run, deleted after). Each backend runs inside a real service (in process).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ListBackend } from '../../src/backends/list-backend.js';
import { e164ToKey } from '../../src/numbers/number-key.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { startRedisMode } from '../helpers/redis-service.js';
import { startEmbedded, tempDir, writeList } from '../helpers/service.js';

const A = e164ToKey('+33612000060');
const B = e164ToKey('+33612000061');
const NEVER = e164ToKey('+33612000062');

async function cases(backend: ListBackend): Promise<void> {
  const first = await backend.change('add', 'internal', [A, B], 'alice');
  expect(first.ok).toBe(true);
  await backend.change('add', 'internal', [A], 'bob');
  await backend.change('remove', 'internal', [B], 'carol');

  // The newest change per list and op, with who made it and when.
  const a = await backend.changesOf(A);
  expect(a).toEqual([{ list: 'internal', op: 'add', at: expect.any(Number), who: 'bob' }]);
  const b = [...(await backend.changesOf(B))].sort((x, y) => x.op.localeCompare(y.op));
  expect(b).toMatchObject([
    { list: 'internal', op: 'add', who: 'alice' },
    { list: 'internal', op: 'remove', who: 'carol' },
  ]);
  expect((b[1]?.at ?? 0) >= (b[0]?.at ?? Infinity)).toBe(true);
  // Nothing recorded: nothing said, never a guess.
  expect(await backend.changesOf(NEVER)).toEqual([]);
}

function args(): string[] {
  const dir = tempDir('callgate-last-change-');
  const path = join(dir, 'callgate.json');
  // `internal`: a deny-list without a source, fed only by the day's changes.
  writeFileSync(path, JSON.stringify({ lists: [{ name: 'bloctel', kind: 'deny', source: writeList(['0699999999'], 'bloctel.txt', dir) }, { name: 'internal', kind: 'deny' }] }));
  return ['--config', path];
}

describe('ListBackend.changesOf', { timeout: 60_000 }, () => {
  it('embedded: from the journal', async () => {
    const service = await startEmbedded(args(), {}, { journalPath: join(tempDir('callgate-journal-'), 'journal.jsonl') });
    try {
      await cases(service.backend);
    } finally {
      await service.stop();
    }
  });

  it('embedded without a journal: nothing held, so nothing said', async () => {
    const service = await startEmbedded(args());
    try {
      await service.backend.change('add', 'internal', [A], 'alice');
      expect(await service.backend.changesOf(A)).toEqual([]);
    } finally {
      await service.stop();
    }
  });

  const prefix = uniquePrefix('cglast');
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  it('redis: from the change stream', async () => {
    const service = await startRedisMode(SHARED_REDIS_URL, prefix, args());
    try {
      await cases(service.backend);
    } finally {
      await service.stop();
    }
  });
});
