/**
 * The Redis fault suite (issue #11, "Keep it that way"): two sidecars in Redis mode on a private
 * redis-server, under seeded traffic — listed and unlisted numbers, intraday opt-outs, consent
 * revocations, refusals and counted attempts — while faults are injected from a table: Redis frozen
 * (SIGSTOP/SIGCONT), killed and restarted empty, flushed. Asserts zero wrong allows throughout, and that
 * the service is back to normal after each fault without restarting any sidecar.
 *
 * To add a fault kind, add a row to FAULTS: `inject` breaks something (it may wait for traffic with
 * env.traffic(n)) and leaves the fleet to recover by itself; `wiped` says whether it loses Redis's data
 * (the wipe alert is then expected).
 */
import { join } from 'node:path';
import { utimesSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { uniquePrefix } from '../../helpers/redis.js';
import { startPrivateRedis, type PrivateRedis } from '../../helpers/redis-server.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { tempDir } from '../../helpers/service.js';
import { waitFor } from '../../helpers/spawn-cli.js';
import { watchNeverAllowed, type NeverAllow, type Watch } from '../../helpers/wrong-allow-watch.js';
import { DAY_MS } from '../../../src/core/time.js';
import { writeConfig } from '../../helpers/config-file.js';

/** Fixed: a failure replays the same traffic and the same fault order. */
const SEED = 0x5eed_11;
const TUESDAY_11H = Date.parse('2026-12-01T10:00:00Z');

/** mulberry32: a small seeded generator, enough to pick traffic and fault order reproducibly. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fr = (i: number): string => `06${String(12_000_000 + i).padStart(8, '0')}`;
const BLOCTEL = Array.from({ length: 40 }, (_, i) => fr(100 + i));
const CONSENTS = Array.from({ length: 40 }, (_, i) => fr(200 + i));
const CUSTOMERS = Array.from({ length: 40 }, (_, i) => fr(300 + i));
const UNLISTED = Array.from({ length: 40 }, (_, i) => fr(900 + i));

type Sidecar = Awaited<ReturnType<typeof startRedisMode>>;

interface FaultEnv {
  readonly redis: PrivateRedis;
  /** Resolves once the watcher has asked every probe n more times. */
  traffic(n: number): Promise<void>;
}

interface FaultAction {
  readonly name: string;
  /** Loses Redis's data: the sidecars must raise the wipe alert. */
  readonly wiped: boolean;
  inject(env: FaultEnv): Promise<void>;
}

const FAULTS: readonly FaultAction[] = [
  {
    name: 'freeze Redis (SIGSTOP), then thaw it',
    wiped: false,
    async inject({ redis, traffic }) {
      redis.signal('SIGSTOP');
      try {
        await traffic(3);
      } finally {
        redis.signal('SIGCONT');
      }
    },
  },
  {
    name: 'kill Redis, serve without it, restart it empty',
    wiped: true,
    async inject({ redis, traffic }) {
      await redis.stop();
      await traffic(3);
      await redis.start();
    },
  },
  {
    // An eviction is possible while the policy is not noeviction: Redis-dependent checks block as
    // unconfirmed; back to noeviction with nothing evicted, the sidecars recover by themselves.
    name: 'switch maxmemory-policy to allkeys-lru, then back to noeviction',
    wiped: false,
    async inject({ redis, traffic }) {
      await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
      try {
        await traffic(3);
      } finally {
        await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      }
    },
  },
  {
    name: 'FLUSHALL',
    wiped: true,
    async inject({ redis }) {
      await redis.cli('FLUSHALL');
    },
  },
];

function writeDated(path: string, numbers: readonly string[]): string {
  writeFileSync(path, `${numbers.join('\n')}\n`);
  const t = (Date.now() - DAY_MS) / 1000;
  utimesSync(path, t, t);
  return path;
}

describe('Redis fault suite (seeded, private redis-server)', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('never allows a listed, opted-out, revoked, refused or capped number through freezes, kills, empty restarts and flushes, and recovers', async () => {
    const random = seeded(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const dir = tempDir();
    const config = writeConfig(dir, {
      lists: [
        { name: 'bloctel', kind: 'deny', source: writeDated(join(dir, 'bloctel.txt'), BLOCTEL) },
        { name: 'internal', kind: 'deny' },
        { name: 'consents', kind: 'allow', role: 'consent', source: writeDated(join(dir, 'consents.txt'), CONSENTS) },
        { name: 'customers', kind: 'allow', role: 'contract', source: writeDated(join(dir, 'customers.txt'), CUSTOMERS) },
      ],
      campaigns: { winter: { policy: 'fr-optin' } },
    });
    const prefix = uniquePrefix('cgtest-faults');
    const sidecars: { s: Sidecar; c: CheckClient }[] = [];
    for (const id of ['a', 'b']) {
      const s = await startRedisMode(redis.url, prefix, ['--config', config, '--instance-id', id], {
        instanceId: id,
        journalPath: join(tempDir('callgate-copy-'), `${id}.jsonl`),
        now: () => TUESDAY_11H,
        confirmTimeoutMs: 200,
        timings: { pollMs: 200, heartbeatMs: 500, wipeHoldMs: 600 },
      });
      sidecars.push({ s, c: await CheckClient.connect(s.url) });
    }
    const clients = sidecars.map((x) => x.c);

    // What must never be allowed, grown only once every sidecar has acknowledged it.
    const optedOut: string[] = [];
    const revoked: string[] = [];
    const refused: string[] = [];
    const capped: string[] = [];
    const winter = (number: string, dial = false): Record<string, unknown> => ({ op: 'check', number, campaign: 'winter', ...(dial ? { dial: true } : {}) });
    const probes = (): NeverAllow[] =>
      clients.flatMap((client, i) => [
        ...[pick(BLOCTEL), ...optedOut].map((number) => ({ label: `sidecar ${i}: listed ${number}`, client, request: { op: 'check', number } })),
        ...revoked.map((number) => ({ label: `sidecar ${i}: revoked ${number}`, client, request: winter(number) })),
        ...refused.map((number) => ({ label: `sidecar ${i}: refused ${number}`, client, request: winter(number) })),
        ...capped.map((number) => ({ label: `sidecar ${i}: capped ${number}`, client, request: winter(number, true) })),
      ]);
    const watch: Watch = watchNeverAllowed(probes);
    const traffic = async (n: number): Promise<void> => {
      const from = watch.rounds();
      await waitFor(() => watch.rounds() >= from + n, `${n} rounds of traffic`, 30_000, 5);
    };
    const blockedEverywhere = (request: Record<string, unknown>): Promise<boolean> =>
      Promise.all(clients.map((c) => c.request(request))).then((replies) => replies.every((r) => r['verdict'] === 'block'));
    const post = async (path: string, body: unknown): Promise<boolean> => {
      const s = pick(sidecars).s;
      return fetch(`http://127.0.0.1:${s.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
        (r) => r.ok,
        () => false,
      );
    };

    // Mutations in seeded order; each counts once acknowledged and seen blocking on every sidecar.
    // Far from every other range: posts that fail during a fault still advance it (by hundreds under load),
    // and an opt-out must never land on a number the test expects unlisted.
    let nextOptOut = 100_000;
    let nextRevoked = 0;
    let nextRefused = 0;
    let nextCapped = 20;
    const wrongDials: string[] = [];
    let mutating = true;
    const mutator = (async () => {
      while (mutating) {
        const r = random();
        try {
          if (r < 0.3) {
            const number = fr(nextOptOut++);
            if (await post('/admin/lists/add', { list: pick(['internal', 'bloctel']), numbers: [number], who: 'agent' })) {
              await waitFor(() => blockedEverywhere({ op: 'check', number }), 'opt-out on every sidecar', 20_000, 10);
              optedOut.push(number);
            }
          } else if (r < 0.5 && nextRevoked < 20) {
            const number = CONSENTS[nextRevoked++] as string;
            if (await post('/admin/lists/remove', { list: 'consents', numbers: [number], who: 'crm' })) {
              await waitFor(() => blockedEverywhere(winter(number)), 'revocation on every sidecar', 20_000, 10);
              revoked.push(number);
            }
          } else if (r < 0.7 && nextRefused < 20) {
            const number = CUSTOMERS[nextRefused++] as string;
            const reply = await pick(clients).request({ op: 'outcome', number, campaign: 'winter', outcome: 'refused' });
            if (reply['ok'] === true) refused.push(number);
          } else if (nextCapped < 40) {
            // Four attempts allowed per 30 days; the fifth and later must block.
            const number = CUSTOMERS[nextCapped++] as string;
            let allowed = 0;
            for (let i = 0; i < 8 && mutating; i++) {
              const reply = await pick(clients).request(winter(number, true));
              if (reply['verdict'] === 'allow' && ++allowed > 4) wrongDials.push(`${number}: attempt ${allowed} allowed`);
            }
            if (allowed === 4) capped.push(number);
          }
        } catch {
          // A fault in the middle of a mutation: it is simply not counted.
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    /** Normal service on every sidecar: unlisted and consented numbers allowed, listed ones blocked with their list. */
    const recovered = async (what: string): Promise<void> => {
      for (const c of clients) {
        let last: unknown = null;
        await waitFor(
          async () => {
            const r = await c.request({ op: 'check', number: pick(UNLISTED) });
            last = r;
            return r['verdict'] === 'allow';
          },
          `${what}: unlisted allowed`,
          30_000,
          20,
        ).catch((err: unknown) => {
          throw new Error(`${String(err)}; last reply ${JSON.stringify(last)}`);
        });
        await waitFor(async () => (await c.request(winter(CONSENTS[39] as string)))['verdict'] === 'allow', `${what}: consent allows`, 30_000, 20);
        await waitFor(async () => (await c.request({ op: 'check', number: BLOCTEL[0] as string }))['reason'] === 'bloctel', `${what}: listed says bloctel`, 30_000, 20);
      }
    };

    try {
      await traffic(5);
      const order = [...FAULTS].sort(() => random() - 0.5);
      for (const fault of order) {
        await fault.inject({ redis, traffic });
        try {
          await recovered(fault.name);
        } catch (err) {
          // Say first whether something was wrongly allowed meanwhile.
          expect(watch.seen()).toEqual([]);
          throw err;
        }
        if (fault.wiped) for (const { s } of sidecars) expect(s.alerts.active().map((a) => a.id)).toContain('redis_wiped');
        await traffic(5);
      }
      mutating = false;
      await mutator;
      expect(wrongDials).toEqual([]);
      expect(await watch.stop()).toEqual([]);
      // The traffic did what it says: every kind of state was exercised.
      expect({ optedOut: optedOut.length > 0, revoked: revoked.length > 0, refused: refused.length > 0, capped: capped.length > 0 }).toEqual({ optedOut: true, revoked: true, refused: true, capped: true });
    } finally {
      mutating = false;
      await mutator;
      await watch.stop();
      for (const { s, c } of sidecars) {
        await c.close();
        await s.stop();
      }
    }
  }, 120_000);
});
