import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FleetCopy } from '../../../src/backends/fleet-copy.js';
import { IntradayAdditions } from '../../../src/lists/intraday.js';
import { tempDir } from '../../helpers/service.js';

const DAY = 86_400_000;
const open = (path: string, prefix = 'callgate:', now = 10 * DAY) => FleetCopy.open(path, { prefix, keepAttemptsMs: 30 * DAY, now, onError: () => undefined });

describe('FleetCopy', () => {
  it('keeps changes, refusals, attempts and the epoch across a reopen (compacted), blocking side first', async () => {
    const path = join(tempDir('callgate-copy-test-'), 'copy.jsonl');
    const { copy } = await open(path);
    const deny = new IntradayAdditions(false);
    const allow = new IntradayAdditions(true);
    copy.replayInto('internal', deny);
    await copy.change('add', 'internal', [33612345678, 33612345679], 'a', 9 * DAY);
    await copy.change('remove', 'internal', [33612345679], 'a', 9 * DAY + 1);
    await copy.change('remove', 'consents', [33600000001], 'crm', 9 * DAY);
    copy.refusalRecorded(33600000002, 9 * DAY, 69 * DAY);
    copy.attemptRecorded(33600000003, 9 * DAY, 'm1');
    copy.attemptRecorded(33600000003, 9 * DAY + 5, 'm2');
    await copy.setEpoch('e1', 9 * DAY);
    expect([...deny.entries()]).toEqual([[33612345678, 9 * DAY]]);
    await copy.close();

    const { copy: again } = await open(path);
    expect(again.epoch).toBe('e1');
    const deny2 = new IntradayAdditions(false);
    again.replayInto('internal', deny2);
    again.replayInto('consents', allow);
    expect([...deny2.entries()]).toEqual([[33612345678, 9 * DAY]]);
    expect(allow.revokedAt(33600000001)).toBe(9 * DAY);
    expect(again.refusal(33600000002, 10 * DAY)).toEqual({ at: 9 * DAY, until: 69 * DAY });
    expect(again.refusal(33600000002, 70 * DAY)).toBeNull();
    expect(again.attempts(33600000003, 0)).toEqual({ count: 2, oldest: 9 * DAY });
    // Recorded twice (re-published and read back): counted once.
    again.attemptRecorded(33600000003, 9 * DAY, 'm1');
    expect(again.attempts(33600000003, 0).count).toBe(2);
    await again.close();
  });

  it('refuses a copy bound to another key prefix (another fleet)', async () => {
    const path = join(tempDir('callgate-copy-test-'), 'copy.jsonl');
    const { copy } = await open(path, 'fleet-a:');
    await copy.setEpoch('e1', 1);
    await copy.close();
    await expect(open(path, 'fleet-b:')).rejects.toMatchObject({ code: 'CALLGATE_ERR_CONFIG' });
    expect(readFileSync(path, 'utf8')).toContain('fleet-a:');
  });

  it('drops ended refusals and attempts out of the window when compacting', async () => {
    const path = join(tempDir('callgate-copy-test-'), 'copy.jsonl');
    const { copy } = await open(path);
    copy.refusalRecorded(33600000002, 1, 2);
    copy.attemptRecorded(33600000003, 1, 'old');
    await copy.compact(100 * DAY);
    await copy.close();
    expect(readFileSync(path, 'utf8')).not.toContain('33600000002');
    expect(readFileSync(path, 'utf8')).not.toContain('"old"');
  });
});
