import { describe, expect, it } from 'vitest';
import { ConfirmStats } from '../../../src/supervision/confirm-stats.js';
import { DEFAULT_ALERT_RULES, unconfirmedListAlerts, unconfirmedOverallAlert } from '../../../src/supervision/stats-service.js';

describe('ConfirmStats', () => {
  it('counts answers per list since start and over a sliding window of whole minutes', () => {
    let now = Date.parse('2026-12-01T10:00:30Z');
    const s = new ConfirmStats({ keepMs: 5 * 60_000, now: () => now });
    for (let i = 0; i < 8; i++) s.record('bloctel', 'member');
    for (let i = 0; i < 2; i++) s.record('bloctel', 'unconfirmed');
    s.record('consents', 'revoked');
    expect(s.figures(60_000)).toEqual([
      { list: 'bloctel', answers: 10, unconfirmed: 2 },
      { list: 'consents', answers: 1, unconfirmed: 0 },
    ]);
    now += 10 * 60_000;
    s.record('bloctel', 'absent');
    expect(s.figures(5 * 60_000)).toEqual([{ list: 'bloctel', answers: 1, unconfirmed: 0 }]);
    expect(s.totals().get('bloctel')).toEqual(new Map([['member', 8], ['unconfirmed', 2], ['absent', 1]]));
  });
});

describe('unconfirmed_rate rules', () => {
  const rules = DEFAULT_ALERT_RULES;
  it('fire past the ratio with enough unconfirmed answers, critical from half on', () => {
    expect(unconfirmedListAlerts([{ list: 'bloctel', answers: 1000, unconfirmed: 5 }], rules)).toEqual([]); // 0.5%: under 1%
    expect(unconfirmedListAlerts([{ list: 'bloctel', answers: 5, unconfirmed: 5 }], rules)).toEqual([]); // fewer than 10
    expect(unconfirmedListAlerts([{ list: 'bloctel', answers: 1000, unconfirmed: 20 }], rules)).toMatchObject([{ id: 'unconfirmed_rate:bloctel', kind: 'unconfirmed_rate', severity: 'warning', list: 'bloctel' }]);
    expect(unconfirmedListAlerts([{ list: 'bloctel', answers: 40, unconfirmed: 30 }], rules)).toMatchObject([{ severity: 'critical' }]);
    expect(unconfirmedOverallAlert(10_000, 200, 'fleet', rules)).toMatchObject({ id: 'unconfirmed_rate', severity: 'warning' });
    expect(unconfirmedOverallAlert(0, 0, 'fleet', rules)).toBeNull();
  });
});
