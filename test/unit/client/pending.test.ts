/**
 * The client's pending table (src/client/pending.ts): a slot table indexed by `id & mask` — id correlation,
 * send order, expiry by deadline, a long-pending id skipped, capacity bounded by maxEntries, never by traffic.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PendingTable } from '../../../src/client/pending.js';

/** Adds a request named `name` with a deadline; returns its id. */
function put(t: PendingTable<string>, name: string, deadline: number): number {
  const id = t.nextId();
  expect(id).toBeGreaterThan(0);
  t.add(id, name, deadline, `{"id":${id}}`);
  return id;
}

function expireAll(t: PendingTable<string>, now: number): string[] {
  const out: string[] = [];
  for (let v = t.expireOldest(now); v !== undefined; v = t.expireOldest(now)) out.push(v);
  return out;
}

describe('PendingTable', () => {
  it('hands out distinct safe-integer ids and matches a reply to its request once', () => {
    const t = new PendingTable<string>(100);
    const a = put(t, 'a', 10);
    const b = put(t, 'b', 10);
    expect(a).not.toBe(b);
    expect(Number.isSafeInteger(a) && Number.isSafeInteger(b)).toBe(true);
    expect(t.take(b)).toBe('b');
    expect(t.take(b)).toBeUndefined();
    expect(t.take(12345)).toBeUndefined();
    // An id that maps to a's slot but is not a's is not a's.
    expect(t.take(a + t.capacity)).toBeUndefined();
    expect(t.take(-1)).toBeUndefined();
    expect(t.take(1.5)).toBeUndefined();
    expect(t.size).toBe(1);
  });

  it('sends in issue order and skips requests that expired or were answered while queued', () => {
    const t = new PendingTable<string>(100);
    const ids = [put(t, '1', 10), put(t, '2', 20), put(t, '3', 30), put(t, '4', 40)];
    expect(t.unsent).toBe(4);
    expect(t.nextToSend()).toBe(`{"id":${ids[0]}}`);
    t.take(ids[1] ?? 0);
    expect(expireAll(t, 30)).toEqual(['1', '3']);
    expect(t.nextToSend()).toBe(`{"id":${ids[3]}}`);
    expect(t.nextToSend()).toBeNull();
    expect(t.unsent).toBe(0);
    expect(t.size).toBe(1);
  });

  it('expires oldest first and stops at the first live deadline', () => {
    const t = new PendingTable<string>(100);
    put(t, 'a', 5);
    put(t, 'b', 7);
    put(t, 'c', 9);
    expect(t.oldestDeadline()).toBe(5);
    expect(expireAll(t, 6)).toEqual(['a']);
    expect(t.oldestDeadline()).toBe(7);
    expect(expireAll(t, 100)).toEqual(['b', 'c']);
    expect(t.oldestDeadline()).toBeNull();
  });

  it('answers full at maxEntries, and a timeout or a reply frees the slot', () => {
    const t = new PendingTable<string>(3);
    put(t, 'a', 1);
    const b = put(t, 'b', 2);
    put(t, 'c', 3);
    expect(t.nextId()).toBe(0);
    expect(expireAll(t, 1)).toEqual(['a']);
    put(t, 'd', 4);
    expect(t.nextId()).toBe(0);
    t.take(b);
    put(t, 'e', 5);
    expect(t.size).toBe(3);
    expect([t.shift(), t.shift(), t.shift(), t.shift()]).toEqual(['c', 'd', 'e', undefined]);
  });

  it('skips the slot of a long-pending id as ids wrap around the table, and still matches it', () => {
    const t = new PendingTable<string>(4); // capacity 64 at most (a power of two ≥ 2 × 4, at least 64)
    const long = put(t, 'long', 1e9);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const id = put(t, `x${i}`, 1e9);
      expect(id & (t.capacity - 1)).not.toBe(long & (t.capacity - 1));
      expect(id).toBeGreaterThan(long);
      seen.add(id);
      expect(t.take(id)).toBe(`x${i}`);
    }
    expect(seen.size).toBe(1000);
    expect(t.capacity).toBe(64);
    expect(t.take(long)).toBe('long');
  });

  it('wraps ids past Number.MAX_SAFE_INTEGER to 1, skipping the slots of ids still pending from before the wrap', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const t = new PendingTable<string>(4, max - 1);
    expect(put(t, 'a', 1e9)).toBe(max - 1); // slot 62 of 64
    expect(put(t, 'b', 1e9)).toBe(max); // slot 63
    const after: number[] = [];
    for (let i = 0; i < 63; i++) {
      const id = put(t, 'x', 1e9);
      after.push(id);
      t.take(id);
    }
    // 1…61, then 62 and 63 skipped (taken by max − 1 and max), then 64, 65 (slots 0, 1).
    expect(after.slice(0, 61)).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
    expect(after.slice(61)).toEqual([64, 65]);
    expect(t.take(max - 1)).toBe('a');
    expect(t.take(max)).toBe('b');
  });

  it('keeps its invariants under any interleaving (property): capacity bound, unique live ids, FIFO send, exact matching', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('add' as const) }),
      fc.record({ k: fc.constant('send' as const) }),
      fc.record({ k: fc.constant('reply' as const), pick: fc.nat() }),
      fc.record({ k: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ k: fc.constant('drain' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 60 }), fc.array(op, { maxLength: 400 }), (maxEntries, timeoutMs, ops) => {
        const t = new PendingTable<number>(maxEntries);
        // The model: live ids in issue order, with their deadline and whether sent.
        const model: { id: number; deadline: number; sent: boolean }[] = [];
        let now = 0;
        const maxCapacity = Math.max(64, 2 ** Math.ceil(Math.log2(2 * maxEntries)));
        for (const o of ops) {
          if (o.k === 'add') {
            const id = t.nextId();
            if (model.length >= maxEntries) {
              expect(id).toBe(0);
              continue;
            }
            expect(Number.isSafeInteger(id) && id > 0).toBe(true);
            expect(model.some((m) => m.id === id)).toBe(false);
            t.add(id, id, now + timeoutMs, `f${id}`);
            model.push({ id, deadline: now + timeoutMs, sent: false });
          } else if (o.k === 'send') {
            const first = model.find((m) => !m.sent);
            expect(t.nextToSend()).toBe(first === undefined ? null : `f${first.id}`);
            if (first !== undefined) first.sent = true;
          } else if (o.k === 'reply') {
            const m = model[o.pick % Math.max(1, model.length)];
            const id = m?.id ?? o.pick + 1;
            expect(t.take(id)).toBe(m?.id);
            if (m !== undefined) model.splice(model.indexOf(m), 1);
            expect(t.take(id)).toBeUndefined();
          } else if (o.k === 'tick') {
            now += o.ms;
            const due = model.filter((m) => m.deadline <= now).map((m) => m.id);
            const got: number[] = [];
            for (let v = t.expireOldest(now); v !== undefined; v = t.expireOldest(now)) got.push(v);
            expect(got).toEqual(due);
            model.splice(0, due.length);
          } else {
            const got: number[] = [];
            for (let v = t.shift(); v !== undefined; v = t.shift()) got.push(v);
            expect(got).toEqual(model.map((m) => m.id));
            model.length = 0;
          }
          expect(t.size).toBe(model.length);
          expect(t.unsent).toBe(model.filter((m) => !m.sent).length);
          expect(t.capacity).toBeLessThanOrEqual(maxCapacity);
          expect(t.oldestDeadline()).toBe(model[0]?.deadline ?? null);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('holds memory to its capacity under sustained traffic past one request that waits out its timeout', () => {
    const t = new PendingTable<string>(10);
    const timeout = 100_000;
    put(t, 'slow', timeout);
    for (let now = 1; now < timeout; now++) {
      const id = put(t, 'x', now + timeout);
      t.nextToSend();
      if (now % 2 === 0) t.take(id);
      expect(expireAll(t, now)).toEqual([]);
      if (now % 2 === 1) t.take(id);
    }
    expect(t.capacity).toBe(64);
    expect(expireAll(t, timeout)).toEqual(['slow']);
    expect(t.size).toBe(0);
  });
});
