/**
 * Script cost inside Redis, A/B (issue 17): a private redis-server, the confirmation script and the rules script
 * (or variants of it, as Lua files) called one at a time in interleaved rounds, each timed by Redis itself
 * (SLOWLOG with slower-than 0; the median per round). The rules script is called as a counted fr-optin dial on a
 * consent hit (one item: marker, bucket member, stored terms), 5,000 consumers in turn.
 *   node --import tsx bench/script-cost.ts decide [variant.lua …]      (ROUNDS=7 N=1000 by default)
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
await redis.hset('t', '33612345678', '1893456000000\t1756684800000\tweb:bench\tproof-1');
const N = Number(process.env.N ?? 1000);
const rounds = Number(process.env.ROUNDS ?? 7);
let seq = 0;
const call = (name: string, sha: string): Promise<unknown> => {
  const i = seq++;
  if (name === 'confirm') return redis.evalsha(sha, 3, 'm', 'b', 'a', '123', '33612345678', 'e');
  return redis.evalsha(sha, 8, 'ref:' + (i % 5000), 'att:' + (i % 5000), 'm', 'b', 'a', 'rv', 't', 'ep', '1', '1', '0', '4', String(30 * 86400000), '1', 'x' + i, '1', String(60 * 86400000), '123', '33612345678', 'c', 'e', '');
};
const per: Record<string, number[]> = {};
await redis.config('SET', 'slowlog-max-len', String(N + 10));
await redis.config('SET', 'slowlog-log-slower-than', '0');
for (let round = 0; round < rounds; round++) {
  for (const [name, sha] of variants) {
    await redis.slowlog('RESET');
    for (let i = 0; i < N; i++) await call(name, sha);
    const log = (await redis.slowlog('GET', N + 10)) as Array<[number, number, number, string[]]>;
    const d = log.filter((e) => e[3][0]?.toLowerCase() === 'evalsha').map((e) => e[2]).sort((a, b) => a - b);
    (per[name] ??= []).push(d[d.length >> 1] ?? -1);
  }
}
const med = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1] ?? -1;
for (const [name] of variants) console.log(`${name}: median ${med((per[name] ?? []))} µs; rounds ${(per[name] ?? []).join(' ')}; ratio to confirm per round median ${med((per[name] ?? []).map((v, i) => v / (per['confirm']?.[i] ?? Number.NaN))).toFixed(2)}`);
redis.disconnect();
await stopAll();
