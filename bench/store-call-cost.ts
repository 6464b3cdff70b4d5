/**
 * Node-side cost of the hot Redis calls (issue 17), A/B: this process's CPU (user + system, process.cpuUsage) per
 * Confirmer.decide() of a counted fr-optin dial on a consent hit (the rules script: keys, arguments, the reply's
 * parse) against per Confirmer.confirm() of a deny-list hit (the block path's one call), on a private
 * redis-server. Rounds of B calls of each, alternating call by call; per-round µs per call and their ratio.
 * It measures the store call only, not a whole check (bench/driver.ts cost-* scenarios measure those).
 *   node --import tsx bench/store-call-cost.ts      (ROUNDS=9 B=2000 by default)
 */
import { RedisStore } from '../src/redis/store.js';
import type { DecideInput } from '../src/rules/facts.js';
import type { ConfirmItem } from '../src/redis/confirm.js';
import { encodeTerms } from '../src/rules/consent-terms.js';
import { DAY_MS } from '../src/core/time.js';
import { startPrivateRedis } from './private-redis.js';
import { stopAll } from './children.js';

const ROUNDS = Number(process.env.ROUNDS ?? 9);
const B = Number(process.env.B ?? 2000);
const CONSUMERS = ROUNDS * B + 1000;
const FIRST = 33_600_000_000;
const r = await startPrivateRedis();
const store = await RedisStore.connect({ url: r.url, prefix: 'cost:', connectTimeoutMs: 5000, confirmTimeoutMs: 2000 });
const consumers = Float64Array.from({ length: CONSUMERS }, (_, i) => FIRST + i);
const terms = new Map<number, string>();
for (const k of consumers) terms.set(k, encodeTerms({ consentedAt: Date.parse('2026-09-01'), source: 'web:bench', proof: `proof-${k}`, expiresAt: Date.parse('2030-01-01') }));
const write = async (list: string, kind: 'deny' | 'allow', withTerms: boolean): Promise<{ generation: string; buckets: ConfirmItem['buckets'] }> => {
  const m = await store.generations.writeGeneration({ list, kind, keys: consumers, filter: Buffer.from('f'), normaliserVersion: 'v1', hashId: 'h', fingerprint: 'f'.repeat(64), ...(withTerms ? { terms } : {}) });
  await store.generations.switchCurrent(list, m.generation);
  return { generation: m.generation, buckets: m.buckets };
};
const deny = await write('bench', 'deny', false);
const consent = await write('consents', 'allow', true);
// As a sidecar with a journal: the fleet epoch is required on every rules call.
store.confirmer.expectEpoch(await store.epoch.ensureEpoch());
await store.confirmer.warmUp();

let next = 0;
const confirmOnce = async (): Promise<void> => {
  const key = FIRST + (next++ % CONSUMERS);
  const [m] = await store.confirmer.confirm([{ list: 'bench', generation: deny.generation, buckets: deny.buckets, key }]);
  if (m !== 'member') throw new Error(`confirm answered ${String(m)}`);
};
let fresh = 0;
const decideOnce = async (): Promise<void> => {
  // A new consumer each call: every call is a counted first dial.
  const key = FIRST + fresh++;
  const input: DecideInput = { key, items: [{ list: 'consents', generation: consent.generation, buckets: consent.buckets, key, role: 'consent' }], dial: true, requireConsent: true, jsBlocked: false, cap: 4, windowMs: 30 * DAY_MS, refusals: true };
  const f = await store.confirmer.decide(input);
  if (!f.counted) throw new Error(`decide did not count: ${JSON.stringify(f)}`);
};
// Call by call, alternating, each timed alone: a busy machine then slows both alike.
const cpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
for (let i = 0; i < 500; i++) {
  await confirmOnce();
  await decideOnce();
}
const conf: number[] = [];
const dec: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  let c = 0;
  let d = 0;
  for (let i = 0; i < B; i++) {
    let t = cpu();
    await confirmOnce();
    c += cpu() - t;
    t = cpu();
    await decideOnce();
    d += cpu() - t;
  }
  conf.push(c / B);
  dec.push(d / B);
}
const med = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1] ?? Number.NaN;
const ratios = dec.map((d, i) => d / (conf[i] ?? Number.NaN));
console.log(`confirm(): median ${med(conf).toFixed(1)} µs CPU per call; rounds ${conf.map((v) => v.toFixed(1)).join(' ')}`);
console.log(`decide():  median ${med(dec).toFixed(1)} µs CPU per call; rounds ${dec.map((v) => v.toFixed(1)).join(' ')}`);
console.log(`decide/confirm per round: median ${med(ratios).toFixed(2)} [${ratios.map((v) => v.toFixed(2)).join(' ')}]`);
await store.close();
await stopAll();
