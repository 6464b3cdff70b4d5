import { describe, expect, it } from 'vitest';
import { CheckStats, LatencyBuckets, tallyKey } from '../../../src/supervision/check-stats.js';
import { buildStatsView, campaignFigures, windowFigures, type MinuteCounts } from '../../../src/supervision/stats-view.js';
import { blockRateAlerts, DEFAULT_ALERT_RULES, StatsService } from '../../../src/supervision/stats-service.js';
import { ProcessFigures } from '../../../src/supervision/stats-figures.js';
import { AlertRegistry } from '../../../src/supervision/alerts.js';
import { ListRegistry } from '../../../src/lists/registry.js';
import { silentLogger } from '../../../src/core/logger.js';

const T0 = Date.UTC(2026, 10, 30, 9, 0, 0); // a minute boundary

function minute(offset: number, entries: [string, string, string, number][]): MinuteCounts {
  return { minute: T0 + offset * 60_000, counts: new Map(entries.map(([c, v, r, n]) => [tallyKey(c, v, r), n])) };
}

describe('check tallies', () => {
  it('bounds campaign cardinality with an "other" bucket', () => {
    const s = new CheckStats({ maxCampaigns: 2, now: () => T0 });
    expect(s.campaignLabel('a')).toBe('a');
    expect(s.campaignLabel('b')).toBe('b');
    expect(s.campaignLabel('c')).toBe('other');
    expect(s.campaignLabel('a')).toBe('a');
    expect(s.campaignLabel(null)).toBe('(none)');
  });

  it('counts per minute and in total, rolling over at minute boundaries (fake clock)', () => {
    let now = T0 + 10_000;
    const s = new CheckStats({ now: () => now });
    s.record('w', 'block', 'bloctel', 3);
    s.record('w', 'allow', 'not_listed');
    now += 60_000;
    s.record('w', 'allow', 'not_listed');
    const minutes = s.minutesSince(T0);
    expect(minutes.map((m) => [m.minute - T0, Object.fromEntries(m.counts)])).toEqual([
      [0, { [tallyKey('w', 'block', 'bloctel')]: 3, [tallyKey('w', 'allow', 'not_listed')]: 1 }],
      [60_000, { [tallyKey('w', 'allow', 'not_listed')]: 1 }],
    ]);
    expect(s.totals().get(tallyKey('w', 'allow', 'not_listed'))).toBe(2);
  });

  it('estimates a p99 within a bucket', () => {
    const l = new LatencyBuckets();
    for (let i = 0; i < 990; i++) l.record(40);
    for (let i = 0; i < 10; i++) l.record(900);
    expect(l.quantileUs(0.5)).toBeGreaterThanOrEqual(40);
    expect(l.quantileUs(0.5)).toBeLessThan(50);
    expect(l.quantileUs(0.99)).toBeLessThan(50);
    expect(l.quantileUs(0.999)).toBeGreaterThanOrEqual(900);
    expect(new LatencyBuckets().quantileUs(0.99)).toBeNull();
  });
});

describe('sliding windows', () => {
  const minutes = [
    minute(0, [['w', 'block', 'bloctel', 60], ['w', 'allow', 'not_listed', 60]]),
    minute(1, [['w', 'block', 'bloctel', 30], ['w', 'allow', 'not_listed', 90]]),
  ];

  it('counts the current partial minute whole and the oldest one in part', () => {
    // 30 s into minute 1: the 1-minute window is minute 1 (all of it so far) + the last half of minute 0.
    const w = windowFigures(minutes, T0 + 90_000, 60_000);
    expect(w).toEqual({ checks: 180, blocked: 60, blockRate: 60 / 180, byReason: { bloctel: 60, not_listed: 120 } });
    expect(windowFigures(minutes, T0 + 90_000, 15 * 60_000)).toMatchObject({ checks: 240, blocked: 90 });
    expect(windowFigures([], T0, 60_000)).toEqual({ checks: 0, blocked: 0, blockRate: 0, byReason: {} });
  });

  it('builds campaign rows with their main reasons, biggest first', () => {
    const rows = campaignFigures(
      [minute(0, [['a', 'block', 'bloctel', 5], ['a', 'block', 'internal', 2], ['a', 'allow', 'not_listed', 3], ['b', 'allow', 'not_listed', 20]])],
      T0 + 30_000,
      15 * 60_000,
    );
    expect(rows).toEqual([
      { campaign: 'b', checks: 20, blocked: 0, blockRate: 0, topReasons: [] },
      { campaign: 'a', checks: 10, blocked: 7, blockRate: 0.7, topReasons: [{ reason: 'bloctel', count: 5 }, { reason: 'internal', count: 2 }] },
    ]);
  });

  it('gives the last hour per minute, oldest first, zero-filled', () => {
    const view = buildStatsView({ scope: 'process', now: T0 + 90_000, minutes, slots: [], sidecars: [], lists: [], alerts: [] });
    expect(view.series).toHaveLength(60);
    expect(view.series.at(-1)).toEqual({ t: T0 + 60_000, checks: 120, blocked: 30 });
    expect(view.series.at(-2)).toEqual({ t: T0, checks: 120, blocked: 60 });
    expect(view.series[0]).toEqual({ t: T0 - 58 * 60_000, checks: 0, blocked: 0 });
    expect(JSON.stringify(view)).not.toMatch(/\+\d{6,}/);
  });
});

describe('the last minute of a supervisor (injected clock)', () => {
  function service(now: () => number): { stats: CheckStats; view: StatsService } {
    const stats = new CheckStats({ now });
    const view = new StatsService({
      stats,
      registry: new ListRegistry([]),
      alerts: new AlertRegistry({ logger: silentLogger(), now }),
      instanceId: 'solo',
      figures: new ProcessFigures({ stats, instanceId: 'solo', mode: 'embedded' }),
      nextRefresh: () => ({}),
      logger: silentLogger(),
      now,
    });
    return { stats, view };
  }

  it('counts checks that straddle a minute boundary whole for as long as they are within the last 60 s', async () => {
    let now = T0 + 55_000;
    const { stats, view } = service(() => now);
    for (let i = 0; i < 5; i++) stats.record('w', 'block', 'bloctel');
    now = T0 + 62_000;
    for (let i = 0; i < 5; i++) stats.record('w', 'allow', 'not_listed');
    // 38 s after the last checks, 45 s after the first: all ten are in the last minute.
    now = T0 + 100_000;
    const v = await view.view();
    expect(v.windows['1m']).toMatchObject({ checks: 10, blocked: 5 });
    expect(v.sidecars[0]).toMatchObject({ checks1m: 10, blocked1m: 5 });
    // Past 60 s they leave the window; the 10-second slot at its edge counts in part (4 s of 10 here).
    now = T0 + 116_000;
    expect((await view.view()).windows['1m']).toMatchObject({ checks: 7, blocked: 2 });
    now = T0 + 120_000;
    expect((await view.view()).windows['1m']).toMatchObject({ checks: 5, blocked: 0 });
    now = T0 + 130_000;
    expect((await view.view()).windows['1m']).toMatchObject({ checks: 0 });
    expect((await view.view()).windows['15m']).toMatchObject({ checks: 10, blocked: 5 });
  });

  it('reads the same wherever the minute boundary falls', async () => {
    for (let offset = 0; offset < 60_000; offset += 7_000) {
      let now = T0 + offset;
      const { stats, view } = service(() => now);
      for (let i = 0; i < 10; i++) {
        stats.record('w', i < 4 ? 'block' : 'allow', i < 4 ? 'bloctel' : 'not_listed');
        now += 1_000;
      }
      now += 20_000;
      expect((await view.view()).windows['1m'], `offset ${offset}`).toMatchObject({ checks: 10, blocked: 4 });
    }
  });
});

describe('block-rate alert rule', () => {
  const row = (campaign: string, checks: number, blocked: number) => ({ campaign, checks, blocked, blockRate: blocked / checks, topReasons: [{ reason: 'bloctel', count: blocked }] });

  it('fires over 25% with at least 200 checks, not below either edge', () => {
    const alerts = blockRateAlerts([row('hot', 200, 51), row('few', 199, 150), row('edge', 400, 100), row('cool', 1000, 10)], DEFAULT_ALERT_RULES);
    expect(alerts.map((a) => a.id)).toEqual(['block_rate:hot']);
    expect(alerts[0]).toMatchObject({ kind: 'block_rate', severity: 'warning', details: { campaign: 'hot', checks: 200, blocked: 51 } });
    expect(alerts[0]?.message).toMatch(/25\.5% of 200 checks.*mostly bloctel/);
  });
});
