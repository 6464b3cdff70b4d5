import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IntradayJournal, JOURNAL_VERSION } from '../../../src/backends/journal.js';
import { tempDir } from '../../helpers/service.js';

function path(): string {
  return join(tempDir('callgate-journal-test-'), 'journal.jsonl');
}

describe('IntradayJournal', () => {
  it('starts empty when the file does not exist, and creates it', async () => {
    const p = path();
    const { journal, entries, skipped } = await IntradayJournal.open(p);
    expect(entries).toEqual([]);
    expect(skipped).toBe(0);
    expect(journal.lastFingerprint('bloctel')).toBeNull();
    await journal.close();
    // A new journal starts with its format version.
    expect(readFileSync(p, 'utf8')).toBe(`{"op":"version","v":${JOURNAL_VERSION}}\n`);
  });

  it('appends changes that a reopened journal replays, per list, in order', async () => {
    const p = path();
    const first = (await IntradayJournal.open(p)).journal;
    await first.append({ op: 'add', list: 'internal', keys: [33612345678, 33612345679], who: 'a', at: 1000 });
    await first.append({ op: 'add', list: 'bloctel', keys: [33700000001], who: 'a', at: 1001 });
    await first.append({ op: 'remove', list: 'internal', keys: [33612345679], who: 'b', at: 1002 });
    await first.close();
    const { journal, entries, skipped } = await IntradayJournal.open(p);
    expect(skipped).toBe(0);
    expect(entries).toHaveLength(3);
    expect(journal.changes('internal').map((c) => [c.op, c.keys])).toEqual([
      ['add', [33612345678, 33612345679]],
      ['remove', [33612345679]],
    ]);
    expect(journal.changes('bloctel')).toHaveLength(1);
    expect(journal.changes('other')).toEqual([]);
    await journal.close();
  });

  it('skips and counts unreadable lines (a torn last write, garbage, wrong shapes)', async () => {
    const p = path();
    writeFileSync(
      p,
      [
        JSON.stringify({ op: 'add', list: 'internal', keys: [33612345678], who: 'a', at: 1 }),
        'not json',
        JSON.stringify({ op: 'add', list: 'internal', keys: ['33612345678'], who: 'a', at: 2 }),
        JSON.stringify({ op: 'delete', list: 'internal', keys: [1], who: 'a', at: 3 }),
        JSON.stringify({ op: 'add', list: 'internal', keys: [1.5], who: 'a', at: 4 }),
        '{"op":"add","list":"internal","ke',
      ].join('\n'),
    );
    const { journal, entries, skipped } = await IntradayJournal.open(p);
    expect(entries).toHaveLength(1);
    expect(skipped).toBe(5);
    await journal.close();
  });

  it('an append after a torn last line (no newline) is not glued to it and survives the next restart', async () => {
    const p = path();
    writeFileSync(p, `${JSON.stringify({ op: 'add', list: 'internal', keys: [33612345678], who: 'a', at: 1 })}\n{"op":"add","list":"inter`);
    const first = await IntradayJournal.open(p);
    expect(first.skipped).toBe(1);
    await first.journal.append({ op: 'add', list: 'internal', keys: [33699999999], who: 'b', at: 2 });
    await first.journal.close();
    const second = await IntradayJournal.open(p);
    expect(second.journal.changes('internal').flatMap((c) => c.keys)).toEqual([33612345678, 33699999999]);
    expect(second.skipped).toBe(1);
    await second.journal.close();
  });

  it('replaced() drops that list\'s changes older than the cut-off, keeps newer ones and other lists, and records the file', async () => {
    const p = path();
    const { journal } = await IntradayJournal.open(p);
    await journal.append({ op: 'add', list: 'bloctel', keys: [1], who: 'a', at: 100 });
    await journal.append({ op: 'add', list: 'internal', keys: [2], who: 'a', at: 100 });
    await journal.append({ op: 'add', list: 'bloctel', keys: [3], who: 'a', at: 500 });
    await journal.replaced('bloctel', 'f1', 500);
    expect(journal.lastFingerprint('bloctel')).toBe('f1');
    expect(journal.lastFingerprint('internal')).toBeNull();
    expect(journal.changes('bloctel').flatMap((c) => c.keys)).toEqual([3]);
    expect(journal.changes('internal').flatMap((c) => c.keys)).toEqual([2]);
    // Appends after the rewrite go to the new file.
    await journal.append({ op: 'add', list: 'bloctel', keys: [4], who: 'a', at: 600 });
    await journal.replaced('bloctel', 'f2', 550);
    await journal.close();

    const reopened = await IntradayJournal.open(p);
    expect(reopened.skipped).toBe(0);
    expect(reopened.journal.lastFingerprint('bloctel')).toBe('f2');
    expect(reopened.journal.changes('bloctel').flatMap((c) => c.keys)).toEqual([4]);
    expect(reopened.journal.changes('internal').flatMap((c) => c.keys)).toEqual([2]);
    // Only the last generation record of a list is kept.
    expect(reopened.entries.filter((e) => e.op === 'generation')).toHaveLength(1);
    await reopened.journal.close();
  });

  it('serialises appends issued while a rewrite runs: none is lost', async () => {
    const p = path();
    const { journal } = await IntradayJournal.open(p);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      writes.push(journal.append({ op: 'add', list: 'internal', keys: [1000 + i], who: 'a', at: 1000 + i }));
      if (i === 25) writes.push(journal.replaced('bloctel', 'f', 0));
    }
    await Promise.all(writes);
    await journal.close();
    const lines = readFileSync(p, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(52); // version, 50 additions, generation
    const reopened = await IntradayJournal.open(p);
    expect(reopened.journal.changes('internal').flatMap((c) => c.keys)).toEqual(Array.from({ length: 50 }, (_, i) => 1000 + i));
    await reopened.journal.close();
  });

  it('reads a version-1 file (no version record), and refuses a newer version rather than misreading it', async () => {
    const old = path();
    writeFileSync(old, `${JSON.stringify({ op: 'add', list: 'internal', keys: [33612345678], who: 'a', at: 1 })}\n`);
    const opened = await IntradayJournal.open(old);
    expect(opened.journal.changes('internal')).toHaveLength(1);
    await opened.journal.close();
    const newer = path();
    writeFileSync(newer, `${JSON.stringify({ op: 'version', v: JOURNAL_VERSION + 1 })}\n${JSON.stringify({ op: 'add', list: 'internal', keys: [33612345678], who: 'a', at: 1 })}\n`);
    await expect(IntradayJournal.open(newer)).rejects.toMatchObject({ code: 'CALLGATE_ERR_JOURNAL_FORMAT' });
    expect(readFileSync(newer, 'utf8')).toContain(`"v":${JOURNAL_VERSION + 1}`);
  });

  it('appendSoon: records nobody waits on share one flush, are durable when they resolve, and go out at once with an append or a close', async () => {
    const p = path();
    const { journal } = await IntradayJournal.open(p);
    const soon = Array.from({ length: 20 }, (_, i) => journal.appendSoon({ op: 'attempt', key: 33612345678, at: 100 + i, member: `${100 + i}-x.${i}` }));
    await Promise.all(soon);
    expect(readFileSync(p, 'utf8').trim().split('\n')).toHaveLength(21); // version + 20, on disk once resolved
    expect(journal.entries()).toHaveLength(20);
    // An append nobody waits on, then one a caller waits on: the second takes the first along (in order).
    const lazy = journal.appendSoon({ op: 'refusal', key: 33612345678, at: 200, until: 300 });
    await journal.append({ op: 'add', list: 'internal', keys: [1], who: 'a', at: 201 });
    await lazy;
    expect(journal.entries().slice(-2).map((e) => e.op)).toEqual(['refusal', 'add']);
    // Closed while a record waits for its flush: written before the file is closed.
    const last = journal.appendSoon({ op: 'attempt', key: 33612345679, at: 300, member: '300-x.y' });
    await journal.close();
    await last;
    const reopened = await IntradayJournal.open(p);
    expect(reopened.skipped).toBe(0);
    expect(reopened.entries).toHaveLength(23);
    expect(reopened.entries.at(-1)).toMatchObject({ op: 'attempt', member: '300-x.y' });
    await reopened.journal.close();
  });

  it('refuses records after close with a code (not a write to a closed file), and a second close is harmless', async () => {
    const p = path();
    const { journal } = await IntradayJournal.open(p);
    await journal.append({ op: 'add', list: 'internal', keys: [1], who: 'a', at: 1 });
    await journal.close();
    const closed = { code: 'CALLGATE_ERR_JOURNAL_CLOSED' };
    await expect(journal.append({ op: 'add', list: 'internal', keys: [2], who: 'a', at: 2 })).rejects.toMatchObject(closed);
    await expect(journal.appendSoon({ op: 'refusal', key: 33612345678, at: 3, until: 4 })).rejects.toMatchObject(closed);
    await expect(journal.replaced('internal', 'f', 5)).rejects.toMatchObject(closed);
    await expect(journal.rewrite([])).rejects.toMatchObject(closed);
    await journal.close();
    const reopened = await IntradayJournal.open(p);
    expect(reopened.entries).toHaveLength(1);
    await reopened.journal.close();
  });

  it('keeps refusal, attempt and epoch records across a reopen and a rewrite', async () => {
    const p = path();
    const { journal } = await IntradayJournal.open(p);
    await journal.append({ op: 'refusal', key: 33612345678, at: 10, until: 20 });
    await journal.append({ op: 'attempt', key: 33612345678, at: 11, member: '11-x.1' });
    await journal.append({ op: 'epoch', epoch: 'e1', prefix: 'callgate:', at: 12 });
    await journal.rewrite(journal.entries());
    await journal.close();
    const reopened = await IntradayJournal.open(p);
    expect(reopened.skipped).toBe(0);
    expect(reopened.entries.map((e) => e.op)).toEqual(['refusal', 'attempt', 'epoch']);
    await reopened.journal.close();
  });
});
