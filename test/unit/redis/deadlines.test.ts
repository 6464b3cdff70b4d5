import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../../../src/redis/deadlines.js';

describe('Deadlines: same-length timeouts on one timer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires each request after the length, never before, in the order they were added', () => {
    const d = new Deadlines(50);
    const fired: string[] = [];
    d.add(() => fired.push('a'));
    vi.advanceTimersByTime(20);
    d.add(() => fired.push('b'));
    vi.advanceTimersByTime(29);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['a']);
    vi.advanceTimersByTime(19);
    expect(fired).toEqual(['a']);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['a', 'b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a cancelled request never expires; the others still do', () => {
    const d = new Deadlines(50);
    const fired: string[] = [];
    const a = d.add(() => fired.push('a'));
    vi.advanceTimersByTime(10);
    d.add(() => fired.push('b'));
    a.cancelled = true;
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps one timer however many requests are in flight, and none once all settled', () => {
    const d = new Deadlines(50);
    const all = Array.from({ length: 5000 }, () => d.add(() => {}));
    expect(vi.getTimerCount()).toBe(1);
    for (const x of all) x.cancelled = true;
    vi.advanceTimersByTime(50);
    expect(vi.getTimerCount()).toBe(0);
    let fired = 0;
    d.add(() => fired++);
    vi.advanceTimersByTime(50);
    expect(fired).toBe(1);
  });
});
