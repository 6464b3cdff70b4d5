/**
 * Supervision end to end: /metrics, /api/stats and the /stats socket of one embedded process, the
 * read-only token, and two sidecars sharing Redis that both report the fleet's totals.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { startEmbedded, tempDir, writeList } from '../../helpers/service.js';
import { waitFor } from '../../helpers/spawn-cli.js';

interface Stats {
  scope: string;
  windows: Record<string, { checks: number; blocked: number; blockRate: number; byReason: Record<string, number> }>;
  campaigns: { campaign: string; checks: number; blocked: number }[];
  sidecars: { id: string; up: boolean; checks1m: number }[];
  lists: { name: string; count: number; freshness: string }[];
  alerts: { id: string }[];
}

/** One of this test's numbers, written as a number (not a digit run inside a float). */
const PHONE = /(^|[^0-9.])(\+?33|0)?612345\d{2}([^0-9]|$)/;

async function stats(port: number, token?: string): Promise<Stats> {
  const res = await fetch(`http://127.0.0.1:${port}/api/stats${token ? `?token=${token}` : ''}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Stats;
}

describe('supervision of one embedded process', () => {
  it('counts checks by verdict, reason and campaign in /metrics, /api/stats and /stats, never showing a number', async () => {
    const list = writeList(['0612345678', '0612345677'], 'bloctel.txt', tempDir());
    const svc = await startEmbedded(['--list', `bloctel=${list}`, '--stats-token', 'ro'], {}, {});
    const client = await CheckClient.connect(svc.url);
    try {
      for (let i = 0; i < 3; i++) await client.request({ op: 'check', number: '0612345678', campaign: 'winter' });
      await client.request({ op: 'check', number: '0612345679', campaign: 'winter' });
      await client.request({ op: 'check', number: 'nope' });
      await client.request({ op: 'check', numbers: ['0612345677', '0612345670'], campaign: 'spring' });

      expect((await fetch(`http://127.0.0.1:${svc.port}/api/stats`)).status).toBe(401);
      const s = await stats(svc.port, 'ro');
      expect(s.scope).toBe('process');
      expect(s.windows['1m']).toMatchObject({ checks: 7, blocked: 5, byReason: { bloctel: 4, not_listed: 2, invalid_number: 1 } });
      expect(s.campaigns).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ campaign: 'winter', checks: 4, blocked: 3 }),
          expect.objectContaining({ campaign: 'spring', checks: 2, blocked: 1 }),
          expect.objectContaining({ campaign: '(none)', checks: 1, blocked: 1 }),
        ]),
      );
      expect(s.lists).toEqual([expect.objectContaining({ name: 'bloctel', count: 2, freshness: 'fresh' })]);
      expect(s.sidecars).toHaveLength(1);
      const text = JSON.stringify(s);
      expect(text).not.toMatch(PHONE);

      const metrics = await (await fetch(`http://127.0.0.1:${svc.port}/metrics`)).text();
      expect(metrics).toMatch(/callgate_checks_total\{verdict="block",reason="bloctel",campaign="winter"\} 3/);
      expect(metrics).toMatch(/callgate_checks_total\{verdict="block",reason="invalid_number",campaign="\(none\)"\} 1/);
      expect(metrics).toMatch(/callgate_check_duration_seconds_count 5/);
      expect(metrics).toMatch(/callgate_list_entries\{list="bloctel",kind="deny"\} 2/);
      expect(metrics).toMatch(/callgate_connections_open 1/);
      expect(metrics).toMatch(/^process_resident_memory_bytes \d/m);
      expect(metrics).toMatch(/^nodejs_eventloop_lag_seconds /m);
      expect(metrics).not.toMatch(/callgate_process_|callgate_nodejs_/);
      expect(metrics).not.toMatch(PHONE);

      const denied = new WebSocket(`ws://127.0.0.1:${svc.port}/stats`);
      await expect(new Promise((_, reject) => denied.once('error', reject))).rejects.toThrow(/401/);
      const ws = new WebSocket(`ws://127.0.0.1:${svc.port}/stats?token=ro`);
      const frames: Stats[] = [];
      ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as Stats));
      await waitFor(() => frames.length >= 2, 'two stats frames', 10_000);
      expect(frames[1]?.windows['1m']?.checks).toBe(7);
      ws.close();
    } finally {
      await client.close();
      await svc.stop();
    }
  });
});

describe('fleet figures through Redis', () => {
  const prefix = uniquePrefix();
  afterAll(() => deletePrefix(SHARED_REDIS_URL, prefix));

  it('two sidecars sharing Redis both show the fleet totals and each other', async () => {
    const list = writeList(['0612345678'], 'bloctel.txt', tempDir());
    const a = await startRedisMode(SHARED_REDIS_URL, prefix, ['--list', `bloctel=${list}`, '--instance-id', 'sidecar-a'], { instanceId: 'sidecar-a', timings: { heartbeatMs: 200 } });
    const b = await startRedisMode(SHARED_REDIS_URL, prefix, ['--list', `bloctel=${list}`, '--instance-id', 'sidecar-b'], { instanceId: 'sidecar-b', timings: { heartbeatMs: 200 } });
    const ca = await CheckClient.connect(a.url);
    const cb = await CheckClient.connect(b.url);
    try {
      for (let i = 0; i < 4; i++) await ca.request({ op: 'check', number: '0612345678', campaign: 'winter' });
      for (let i = 0; i < 6; i++) await cb.request({ op: 'check', number: '0612345679', campaign: 'winter' });
      // Flushes run every 5 s; both must show 10 checks, 4 blocked, and both sidecars. The last minute is
      // the last 60 s (10-second slots), so where the wall-clock minute boundary falls does not matter
      // (test/integration/fleet-window.test.ts pins that with an injected clock); both wait at once, so
      // the last read comes well within 60 s of the checks.
      const views = await Promise.all(
        [a, b].map((svc) =>
          waitFor(
            async () => {
              const v = await stats(svc.port);
              return v.windows['1m']?.checks === 10 && v.sidecars.length >= 2 ? v : null;
            },
            'fleet totals',
            20_000,
            250,
          ),
        ),
      );
      for (const s of views) {
        expect(s.scope).toBe('fleet');
        expect(s.windows['1m']).toMatchObject({ checks: 10, blocked: 4 });
        expect(s.campaigns).toEqual([expect.objectContaining({ campaign: 'winter', checks: 10, blocked: 4 })]);
        expect(s.sidecars.map((x) => x.id)).toEqual(['sidecar-a', 'sidecar-b']);
        expect(s.sidecars.every((x) => x.up)).toBe(true);
      }
    } finally {
      await ca.close();
      await cb.close();
      await a.stop();
      await b.stop();
    }
  });
});
