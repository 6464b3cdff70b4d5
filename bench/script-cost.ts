/**
 * Script cost inside Redis, A/B (issue 17): a private redis-server, the confirmation script and the rules script
 * (or variants of it, as Lua files) called one at a time in interleaved rounds, each timed by Redis itself
 * (SLOWLOG with slower-than 0; the median per round). The rules script is called as a counted fr-optin dial on a
 * consent hit (one item: marker, bucket member, stored terms), 5,000 consumers in turn, with the fleet epoch
 * required as a sidecar with a journal requires it (EPOCH=0: none, as before 2026-12-03's second run).
 *   node --import tsx bench/script-cost.ts decide [variant.lua …]      (ROUNDS=7 N=1000 PACE_MS=0 by default)
 * A variant named *.v0.lua is called with decide.lua's arguments before 2026-12-03 (n and the refusal fallback
 * passed as ARGV[8] and ARGV[9]): to compare a script of that layout with today's.
 */
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { startPrivateRedis } from './private-redis.js';
import { stopAll } from './children.js';
import { loadScripts } from '../src/redis/scripts.js';

const r = await startPrivateRedis();
const redis = new Redis({ port: r.port, host: '127.0.0.1' });
const scripts = loadScripts();
const lua = (command: string): string => scripts.find((s) => s.command === command)?.lua ?? '';
const conf = await redis.script('LOAD', lua('cgConfirm')) as string;
const variants: Array<[string, string]> = [['confirm', conf]];
for (const f of process.argv.slice(2)) variants.push([f, await redis.script('LOAD', f === 'decide' ? lua('cgDecide') : readFileSync(f, 'utf8')) as string]);
await redis.set('m', '1');
await redis.sadd('b', '123');
const epoch = process.env.EPOCH === '0' ? '' : 'e1';
await redis.set('ep', 'e1');
await redis.hset('t', '33612345678', '1893456000000\t1756684800000\tweb:bench\tproof-1');
const N = Number(process.env.N ?? 1000);
const rounds = Number(process.env.ROUNDS ?? 7);
// PACE_MS=1: a pause between calls, as in the full bench's cost scenarios at 1k/s: an idle Redis's caches go cold
// between scripts, which makes the fixed cost of a script larger and the ratios smaller than back to back.
const paceMs = Number(process.env.PACE_MS ?? 0);
let seq = 0;
// A new consumer per call: every rules call is a counted first dial (a ring of consumers would reach the cap of
// 4 after a few rounds, and capped calls skip the writes: later rounds then measured a cheaper path).
const call = (name: string, sha: string): Promise<unknown> => {
  const i = seq++;
  if (name === 'confirm') return redis.evalsha(sha, 3, 'm', 'b', 'a', '123', '33612345678', 'e');
  if (name.endsWith('.v0.lua')) return redis.evalsha(sha, 8, 'ref:' + i, 'att:' + i, 'm', 'b', 'a', 'rv', 't', 'ep', '1', '1', '0', '4', String(30 * 86400000), '1', 'x' + i, '1', String(60 * 86400000), '123', '33612345678', 'c', 'e', epoch);
  return redis.evalsha(sha, 8, 'ref:' + i, 'att:' + i, 'm', 'b', 'a', 'rv', 't', 'ep', '1', '1', '0', '4', String(30 * 86400000), '1', 'x' + i, '123', '33612345678', 'c', 'e', epoch);
};
// Per round: the median of each script's SLOWLOG durations (1 µs steps) and the mean of its middle half (finer).
const per: Record<string, number[]> = {};
const mid: Record<string, number[]> = {};
const shaOf = new Map(variants.map(([name, sha]) => [sha, name]));
await redis.config('SET', 'slowlog-max-len', String(N * variants.length + 10));
await redis.config('SET', 'slowlog-log-slower-than', '0');
for (let round = 0; round < rounds; round++) {
  await redis.slowlog('RESET');
  // Interleaved call by call, so that a busy machine slows every script alike.
  for (let i = 0; i < N; i++) {
    for (const [name, sha] of variants) {
      await call(name, sha);
      if (paceMs > 0) await new Promise((resolve) => setTimeout(resolve, paceMs));
    }
  }
  const log = (await redis.slowlog('GET', N * variants.length + 10)) as Array<[number, number, number, string[]]>;
  const by = new Map<string, number[]>();
  for (const e of log) {
    const name = e[3][0]?.toLowerCase() === 'evalsha' ? shaOf.get(e[3][1] ?? '') : undefined;
    if (name !== undefined) (by.get(name) ?? by.set(name, []).get(name) ?? []).push(e[2]);
  }
  for (const [name] of variants) {
    const d = (by.get(name) ?? []).sort((a, b) => a - b);
    (per[name] ??= []).push(d[d.length >> 1] ?? -1);
    const q = d.slice(d.length >> 2, d.length - (d.length >> 2));
    (mid[name] ??= []).push(q.reduce((a, b) => a + b, 0) / Math.max(1, q.length));
  }
}
const med = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1] ?? -1;
const ratios = (f: Record<string, number[]>, name: string): number[] => (f[name] ?? []).map((v, i) => v / (f['confirm']?.[i] ?? Number.NaN));
for (const [name] of variants) {
  console.log(`${name}: median ${med(per[name] ?? [])} µs (middle-half mean ${med(mid[name] ?? []).toFixed(1)}); rounds ${(per[name] ?? []).join(' ')}; ` +
    `ratio to confirm per round: median ${med(ratios(per, name)).toFixed(2)}, middle-half ${med(ratios(mid, name)).toFixed(2)} [${ratios(mid, name).map((r) => r.toFixed(2)).join(' ')}]`);
}
redis.disconnect();
await stopAll();
