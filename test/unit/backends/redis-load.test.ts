/**
 * `callgate load` reads and builds its list before it takes the list's fleet lock: the build runs on the
 * loader's own thread, and a lock held over it expired under a 100M list (no turn for the renewals;
 * CALLGATE_ERR_LOCK_LOST, bench/growth.ts). A list that cannot be loaded is refused without the lock.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadListIntoRedis, type LoadTarget } from '../../../src/backends/redis-load.js';
import type { ListSpec } from '../../../src/config/list-spec.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function specOf(source: string): ListSpec {
  return {
    name: 'bloctel',
    kind: 'deny',
    role: null,
    source,
    falsePositiveRate: 0.001,
    refresh: { cron: '30 2 * * *', timezone: 'Europe/Paris', maxAgeDays: 30, warnDays: 5, maxShrinkRatio: 0.2, maxBadLineRatio: 0.5, settleMs: 0, maxListBytes: 1 << 20, maxLineChars: 256 },
  };
}

/** Redis as far as the lock: every lock request is counted and refused (another holds it). */
function target(): { store: LoadTarget; lockRequests: () => number } {
  let requests = 0;
  const unused = (): never => {
    throw new Error('not reached in this test');
  };
  const store: LoadTarget = {
    connection: { now: () => Promise.resolve(Date.now()) },
    locks: {
      acquireLock: () => {
        requests++;
        return Promise.resolve(null);
      },
    },
    generations: { readCurrent: unused, writeGeneration: unused, switchCurrent: unused },
  };
  return { store, lockRequests: () => requests };
}

function listFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cg-redis-load-'));
  dirs.push(dir);
  const path = join(dir, 'list.txt');
  writeFileSync(path, text);
  return path;
}

describe('loadListIntoRedis and the fleet lock', () => {
  it('refuses a list with no valid number before asking for the lock', async () => {
    const { store, lockRequests } = target();
    await expect(loadListIntoRedis(store, specOf(listFile('junk\nnot a number\n')))).rejects.toMatchObject({ code: 'CALLGATE_ERR_LIST_EMPTY' });
    expect(lockRequests()).toBe(0);
  });

  it('asks for the lock once the list is read and built, and stops when another holds it', async () => {
    const { store, lockRequests } = target();
    await expect(loadListIntoRedis(store, specOf(listFile('0612345678\n0712345678\n')))).rejects.toMatchObject({ code: 'CALLGATE_ERR_REDIS' });
    expect(lockRequests()).toBe(1);
  });
});
