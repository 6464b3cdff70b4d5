/**
 * The client's pending table (src/client/pending.ts): id correlation, send order, expiry by deadline.
 */
import { describe, expect, it } from 'vitest';
import { PendingTable, type PendingEntry } from '../../../src/client/pending.js';

interface E extends PendingEntry {
  readonly name: string;
}

function entry(name: string, deadline: number, frame: string | null = `{"n":"${name}"}`): E {
  return { name, deadline, frame };
}

describe('PendingTable', () => {
  it('hands out distinct safe-integer ids and matches a reply to its request once', () => {
    const t = new PendingTable<E>();
    const a = t.nextId();
    t.add(a, entry('a', 10));
    const b = t.nextId();
    t.add(b, entry('b', 10));
    expect(a).not.toBe(b);
    expect(Number.isSafeInteger(a) && Number.isSafeInteger(b)).toBe(true);
    expect(t.take(b)?.name).toBe('b');
    expect(t.take(b)).toBeUndefined();
    expect(t.take(12345)).toBeUndefined();
    expect(t.size).toBe(1);
  });

  it('sends in issue order and skips requests that expired or were answered while queued', () => {
    const t = new PendingTable<E>();
    for (let i = 1; i <= 4; i++) t.add(i, entry(String(i), i * 10));
    expect(t.nextToSend()?.id).toBe(1);
    t.take(2);
    expect(t.expire(30).map((e) => e.name)).toEqual(['1', '3']);
    const next = t.nextToSend();
    expect(next?.id).toBe(4);
    if (next !== null) next.entry.frame = null;
    expect(t.nextToSend()).toBeNull();
    expect(t.size).toBe(1);
  });

  it('expires oldest first and stops at the first live deadline', () => {
    const t = new PendingTable<E>();
    t.add(1, entry('a', 5, null));
    t.add(2, entry('b', 7, null));
    t.add(3, entry('c', 9, null));
    expect(t.oldestDeadline()).toBe(5);
    expect(t.expire(6).map((e) => e.name)).toEqual(['a']);
    expect(t.oldestDeadline()).toBe(7);
    expect(t.expire(100).map((e) => e.name)).toEqual(['b', 'c']);
    expect(t.oldestDeadline()).toBeNull();
  });

  it('drains everything, and the queue does not grow without bound under churn', () => {
    const t = new PendingTable<E>();
    for (let i = 0; i < 100_000; i++) {
      const id = t.nextId();
      t.add(id, entry('x', i));
      // Half expire while queued, half are sent and answered.
      if (i % 2 === 0) t.expire(i);
      else {
        const n = t.nextToSend();
        if (n !== null) t.take(n.id);
      }
    }
    expect(t.queuedIds).toBeLessThan(5000);
    t.add(t.nextId(), entry('y', 1e9));
    t.add(t.nextId(), entry('z', 1e9));
    expect(t.drain().map((e) => e.name)).toEqual(['y', 'z']);
    expect(t.size).toBe(0);
    expect(t.nextToSend()).toBeNull();
  });
});
