import { Redis } from 'ioredis';
import { startPrivateRedis } from './private-redis.js';
import { stopAll } from './children.js';
const r = await startPrivateRedis();
const redis = new Redis({ port: r.port, host: '127.0.0.1' });
const sha = await redis.script('LOAD', 'return {1}') as string;
const shaB = await redis.script('LOAD', 'local x = ARGV[1] return {1}') as string;
const big = ['ref:123456', 'att:123456', 'callgate:gen:consents:20261203T030000Z-abc:marker', 'callgate:gen:consents:20261203T030000Z-abc:m:33.12', 'callgate:list:consents:added', 'callgate:list:consents:revoked', 'callgate:gen:consents:20261203T030000Z-abc:terms', 'callgate:epoch', '1', '1', '0', '4', String(30 * 86400000), '1', 'a1b2c3d4e5f6.x1a2', '1', String(60 * 86400000), '123', '33612345678', 'c', 'e', 'e1'];
const small = ['ref:123456', 'callgate:gen:consents:20261203T030000Z-abc:marker', 'callgate:gen:consents:20261203T030000Z-abc:m:33.12', 'callgate:list:consents:added', 'callgate:list:consents:revoked', 'callgate:gen:consents:20261203T030000Z-abc:terms', 'callgate:epoch', '1104e1', '123', '33612345678', 'ce'];
await redis.config('SET', 'slowlog-max-len', '100000'); await redis.config('SET', 'slowlog-log-slower-than', '0');
const res: Record<string, number[]> = {};
for (let round = 0; round < 7; round++) {
  await redis.slowlog('RESET');
  for (let i = 0; i < 1000; i++) { await redis.evalsha(sha, 0); await redis.evalsha(sha, 8, ...big); await redis.evalsha(sha, 7, ...small); await redis.evalsha(shaB, 8, ...big); }
  const log = (await redis.slowlog('GET', 100000)) as Array<[number, number, number, string[]]>;
  const by: Record<string, number[]> = {};
  for (const e of log) { if (e[3][0]?.toLowerCase() !== 'evalsha') continue; const k = `${e[3][1] === sha ? 'ret' : 'retArg'}-${e[3][2]}`; (by[k] ??= []).push(e[2]); }
  for (const [k, v] of Object.entries(by)) { v.sort((a, b) => a - b); const q = v.slice(v.length >> 2, v.length - (v.length >> 2)); (res[k] ??= []).push(q.reduce((a, b) => a + b, 0) / q.length); }
}
for (const [k, v] of Object.entries(res)) console.log(k, v.map((x) => x.toFixed(2)).join(' '));
redis.disconnect(); await stopAll();
