// One-off (not committed): callgate-redis only, cost-block and cost-optin at 1k/s, optional --cpu-prof.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missE164 } from './bench-numbers.js';
import { writeSyntheticList } from './gen-list.js';
import { startPrivateRedis } from './private-redis.js';
import { startTarget } from './targets.js';
import { runToEnd, stopAll } from './children.js';
const size = 50_000, seed = 1;
const scratch = mkdtempSync(join(tmpdir(), 'cg-nodecost-'));
const listPath = join(scratch, 'list.txt');
await writeSyntheticList({ size, out: listPath, seed });
const consentsPath = join(scratch, 'consents.csv');
writeFileSync(consentsPath, `number;consented_at;source;proof;expires_at\n${missE164(size, seed).map((n, i) => `${n};2026-09-01;web:bench;proof-${i};2030-01-01`).join('\n')}\n`);
const optinConfig = join(scratch, 'optin.json');
writeFileSync(optinConfig, JSON.stringify({ lists: [{ name: 'consents', kind: 'allow', role: 'consent', source: consentsPath }], campaigns: { optin: { policy: 'fr-optin' } } }));
const redis = await startPrivateRedis();
const prof = process.env.PROF === '1' ? ['--cpu-prof', '--cpu-prof-dir', '/tmp/rv/prof'] : [];
const journal = process.env.JOURNAL === '0' ? [] : ['--journal', join(scratch, 'journal.jsonl')];
const args = [...prof, 'bin/callgate.js', 'serve', '--host', '127.0.0.1', '--port', '0', '--list', `bench=${listPath}`, '--shutdown-grace-ms', '1000', '--audit-dir', join(scratch, 'audit'), '--redis', redis.url, '--redis-prefix', 'bench-x:', '--config', optinConfig, ...journal];
const t = await startTarget({ name: 'callgate-redis', command: process.execPath, args, readyz: true, readyTimeoutMs: 120_000 });
if (!t.ok) throw new Error(t.reason);
const rounds = Number(process.env.ROUNDS ?? 3);
for (let i = 0; i < rounds; i++) {
  const out = await runToEnd(process.execPath, ['--max-semi-space-size=32', '--import', 'tsx', 'bench/driver.ts', '--url', t.target.url, '--size', String(size), '--seed', String(seed), '--only-open', '--rates', '', '--cost-rate', process.env.RATE ?? '1000', '--cost-measure-ms', process.env.MS ?? '3000', '--server-pid', String(t.target.pid), '--open-block', '--redis-port', String(redis.port), '--optin-campaign', 'optin', '--warmup-ms', '1000'], { cwd: process.cwd() });
  console.log(out.split('\n').filter((l) => /cost-|cpu_us|script_us/.test(l)).join('\n'));
}
await t.target.stop();
await stopAll();
