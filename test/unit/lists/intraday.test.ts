import { describe, expect, it } from 'vitest';
import { IntradayAdditions } from '../../../src/lists/intraday.js';

describe('IntradayAdditions', () => {
  it('adds, answers has, removes', () => {
    const a = new IntradayAdditions();
    expect(a.has(33612345678)).toBe(false);
    a.add(33612345678, 1000);
    expect(a.has(33612345678)).toBe(true);
    expect(a.size).toBe(1);
    expect(a.remove(33612345678)).toBe(true);
    expect(a.remove(33612345678)).toBe(false);
    expect(a.has(33612345678)).toBe(false);
    expect(a.size).toBe(0);
  });

  it('keeps the latest time of a number added twice: a repeat after a new file must survive it', () => {
    const a = new IntradayAdditions();
    a.add(1, 1000);
    a.add(1, 5000);
    expect([...a.entries()]).toEqual([[1, 5000]]);
    a.add(1, 3000); // an older replay (seed after stream) does not make it older
    expect([...a.entries()]).toEqual([[1, 5000]]);
    expect(a.clearBefore(4000)).toBe(0);
    expect(a.has(1)).toBe(true);
  });

  it('clearBefore drops strictly older additions and keeps those at or after the cut-off', () => {
    const a = new IntradayAdditions();
    a.add(1, 999);
    a.add(2, 1000);
    a.add(3, 1001);
    expect(a.clearBefore(1000)).toBe(1);
    expect(a.has(1)).toBe(false);
    expect(a.has(2)).toBe(true);
    expect(a.has(3)).toBe(true);
    expect(a.clearBefore(0)).toBe(0);
    expect(a.clearBefore(Number.POSITIVE_INFINITY)).toBe(2);
    expect(a.size).toBe(0);
  });

  it('a number re-added after a removal gets its new time', () => {
    const a = new IntradayAdditions();
    a.add(1, 100);
    a.remove(1);
    a.add(1, 2000);
    expect(a.clearBefore(1000)).toBe(0);
    expect(a.has(1)).toBe(true);
  });
});

describe('IntradayAdditions merged from another copy (after a Redis wipe)', () => {
  it('a grant lifts only an earlier revocation; a revocation keeps the latest time and yields to a later grant', () => {
    const a = new IntradayAdditions(true);
    a.remove(33600000001, 200);
    a.add(33600000001, 100); // an older grant merged in: the revocation stands
    expect(a.revokedAt(33600000001)).toBe(200);
    a.add(33600000001, 300);
    expect(a.revokedAt(33600000001)).toBeNull();
    a.revoke(33600000001, 250); // older than the grant: ignored
    expect(a.has(33600000001)).toBe(true);
    a.revoke(33600000001, 400);
    expect(a.has(33600000001)).toBe(false);
    expect(a.revokedAt(33600000001)).toBe(400);
  });
});
