/**
 * Conformance of ListBackend.lastChange (backends/list-backend.ts), what `callgate why` says of who made a day's
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

  // The newest change of that kind, with who made it and when.
  const a = await backend.lastChange('internal', A, 'add');
  expect(a).toMatchObject({ op: 'add', who: 'bob' });
  expect(Number.isFinite(a?.at)).toBe(true);
  expect(await backend.lastChange('internal', B, 'add')).toMatchObject({ who: 'alice' });
  expect(await backend.lastChange('internal', B, 'remove')).toMatchObject({ op: 'remove', who: 'carol' });
  // Nothing recorded: null, never a guess.
  expect(await backend.lastChange('internal', A, 'remove')).toBeNull();
  expect(await backend.lastChange('internal', NEVER, 'add')).toBeNull();
  expect(await backend.lastChange('bloctel', A, 'add')).toBeNull();
}

function args(): string[] {
  const dir = tempDir('callgate-last-change-');
  const path = join(dir, 'callgate.json');
  // `internal`: a deny-list without a source, fed only by the day's changes.
  writeFileSync(path, JSON.stringify({ lists: [{ name: 'bloctel', kind: 'deny', source: writeList(['0699999999'], 'bloctel.txt', dir) }, { name: 'internal', kind: 'deny' }] }));
  return ['--config', path];
}

describe('ListBackend.lastChange', { timeout: 60_000 }, () => {
  it('embedded: from the journal', async () => {
    const service = await startEmbedded(args(), {}, { journalPath: join(tempDir('callgate-journal-'), 'journal.jsonl') });
    try {
      await cases(service.backend);
    } finally {
      await service.stop();
    }
  });

  it('embedded without a journal: nothing held, so null', async () => {
    const service = await startEmbedded(args());
    try {
      await service.backend.change('add', 'internal', [A], 'alice');
      expect(await service.backend.lastChange('internal', A, 'add')).toBeNull();
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
      await service.store.close();
    }
  });
});
