import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AlertRegistry } from '../../../src/supervision/alerts.js';
import type { AlertChange } from '../../../src/supervision/alerts.js';
import { createLogger } from '../../../src/core/logger.js';

interface LogLine {
  level: string;
  msg: string;
  alert?: Record<string, unknown>;
  err?: { message: string };
}

function setup(startMs = Date.parse('2026-03-01T02:30:00.000Z')): {
  reg: AlertRegistry;
  lines: LogLine[];
  clock: { ms: number };
} {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  const clock = { ms: startMs };
  const reg = new AlertRegistry({ logger: createLogger({ level: 'debug', instanceId: 'test', destination }), now: () => clock.ms });
  return { reg, lines, clock };
}

const refused = {
  id: 'refresh_refused:bloctel',
  kind: 'refresh_refused',
  severity: 'critical',
  message: 'list shrank from 1000 to 10 numbers',
  list: 'bloctel',
  details: { previous: 1000, candidate: 10 },
} as const;

describe('AlertRegistry', () => {
  it('raises an alert with raisedAt/updatedAt and logs it at error for critical', () => {
    const { reg, lines } = setup();
    reg.raise(refused);
    expect(reg.active()).toEqual([
      { ...refused, raisedAt: '2026-03-01T02:30:00.000Z', updatedAt: '2026-03-01T02:30:00.000Z' },
    ]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'error',
      msg: 'alert raised: refresh_refused:bloctel: list shrank from 1000 to 10 numbers',
      alert: { id: 'refresh_refused:bloctel', kind: 'refresh_refused', severity: 'critical', list: 'bloctel' },
    });
  });

  it('logs a warning at warn', () => {
    const { reg, lines } = setup();
    reg.raise({ id: 'list_ageing:bloctel', kind: 'list_ageing', severity: 'warning', message: 'stale in 4 days' });
    expect(lines[0]?.level).toBe('warn');
    expect(reg.active()[0]).not.toHaveProperty('list');
    expect(reg.active()[0]).not.toHaveProperty('details');
  });

  it('raising an active id again updates it: no duplicate, no log line, raisedAt kept', () => {
    const { reg, lines, clock } = setup();
    reg.raise(refused);
    clock.ms += 86_400_000;
    reg.raise({ ...refused, message: 'list shrank from 1000 to 12 numbers' });
    expect(reg.active()).toHaveLength(1);
    expect(reg.get(refused.id)).toMatchObject({
      message: 'list shrank from 1000 to 12 numbers',
      raisedAt: '2026-03-01T02:30:00.000Z',
      updatedAt: '2026-03-02T02:30:00.000Z',
    });
    expect(lines).toHaveLength(1);
  });

  it('logs again when an active alert escalates (severity or kind changes)', () => {
    const { reg, lines } = setup();
    reg.raise({ id: 'freshness:bloctel', kind: 'list_ageing', severity: 'warning', message: 'ageing' });
    reg.raise({ id: 'freshness:bloctel', kind: 'list_stale', severity: 'critical', message: 'stale' });
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'alert raised: freshness:bloctel: ageing'],
      ['error', 'alert changed: freshness:bloctel: stale'],
    ]);
  });

  it('clear() removes it, logs at info once, and is a no-op for an unknown id', () => {
    const { reg, lines } = setup();
    reg.raise(refused);
    expect(reg.clear(refused.id)).toBe(true);
    expect(reg.clear(refused.id)).toBe(false);
    expect(reg.clear('never:raised')).toBe(false);
    expect(reg.active()).toEqual([]);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['error', 'alert raised: refresh_refused:bloctel: list shrank from 1000 to 10 numbers'],
      ['info', 'alert cleared: refresh_refused:bloctel'],
    ]);
  });

  it('a cleared alert raised again is new (fresh raisedAt, logged)', () => {
    const { reg, lines, clock } = setup();
    reg.raise(refused);
    reg.clear(refused.id);
    clock.ms += 1000;
    reg.raise(refused);
    expect(reg.get(refused.id)?.raisedAt).toBe('2026-03-01T02:30:01.000Z');
    expect(lines).toHaveLength(3);
  });

  it('active() lists alerts in the order first raised and is a snapshot', () => {
    const { reg } = setup();
    reg.raise({ id: 'a', kind: 'refresh_failed', severity: 'critical', message: 'a' });
    reg.raise({ id: 'b', kind: 'list_stale', severity: 'critical', message: 'b' });
    reg.raise({ id: 'a', kind: 'refresh_failed', severity: 'critical', message: 'a again' });
    const snap = reg.active();
    expect(snap.map((a) => a.id)).toEqual(['a', 'b']);
    reg.clear('a');
    expect(snap).toHaveLength(2);
    expect(Object.isFrozen(snap[0])).toBe(true);
  });

  it('copies details: the caller mutating its object later changes nothing', () => {
    const { reg } = setup();
    const details: Record<string, unknown> = { count: 1 };
    reg.raise({ ...refused, details });
    details['count'] = 2;
    expect(reg.get(refused.id)?.details).toEqual({ count: 1 });
  });

  it('onChange reports raised, updated and cleared; unsubscribe stops it', () => {
    const { reg } = setup();
    const seen: Array<[AlertChange['type'], string]> = [];
    const off = reg.onChange((c) => seen.push([c.type, c.alert.message]));
    reg.raise(refused);
    reg.raise({ ...refused, message: 'again' });
    reg.clear(refused.id);
    reg.clear(refused.id);
    off();
    reg.raise(refused);
    expect(seen).toEqual([
      ['raised', refused.message],
      ['updated', 'again'],
      ['cleared', 'again'],
    ]);
  });

  it('a throwing listener is logged and does not stop the others or the raise', () => {
    const { reg, lines } = setup();
    const seen: string[] = [];
    reg.onChange(() => {
      throw new Error('dashboard down');
    });
    reg.onChange((c) => seen.push(c.alert.id));
    reg.raise(refused);
    expect(seen).toEqual([refused.id]);
    expect(reg.active()).toHaveLength(1);
    expect(lines.find((l) => l.msg === 'alert listener failed')?.err?.message).toBe('dashboard down');
  });
});
