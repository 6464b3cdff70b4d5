/**
 * The fair floors (issue 17): a minimal `ws` server answering each check with ONE lookup, configured like
 * callgate's socket server (no compression, same payload limit), and nothing else: no normalisation, no rules,
 * no stats, no audit. `--store set`: an in-process `Set` of the list's numbers (the floor of embedded mode);
 * `--store redis`: one `SISMEMBER` on a private redis-server per check (three processes, as callgate in Redis
 * mode: driver, server, Redis). Serves `GET /metrics` with `process_cpu_seconds_total`, as callgate does, so
 * that the driver reads its CPU per check the same way. FROZEN: a change here is its own commit, with before
 * and after figures. Prints `{"msg":"listening","port":P}` on stdout.
 *   node --import tsx bench/lookup-server.ts --store set --size N [--seed 1] [--port 0]
 *   node --import tsx bench/lookup-server.ts --store redis --redis-port P --key K [--port 0]
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { generateNumbers } from './synthetic-numbers.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    store: { type: 'string' },
    size: { type: 'string' },
    seed: { type: 'string', default: '1' },
    'redis-port': { type: 'string' },
    key: { type: 'string' },
  },
  strict: true,
});

type Lookup = (n: string) => boolean | Promise<boolean>;

async function lookupOf(): Promise<Lookup> {
  if (values.store === 'set') {
    const set = new Set<string>();
    for (const n of generateNumbers(Number(values.size), Number(values.seed))) set.add(n);
    return (n) => set.has(n);
  }
  if (values.store === 'redis' && values['redis-port'] !== undefined && values.key !== undefined) {
    const key = values.key;
    const redis = new Redis({ host: '127.0.0.1', port: Number(values['redis-port']), lazyConnect: true, enableOfflineQueue: false });
    await redis.connect();
    return async (n) => (await redis.sismember(key, n)) === 1;
  }
  throw new Error('--store set --size N, or --store redis --redis-port P --key K');
}

const lookup = await lookupOf();
// Verdicts as text, built once; the id goes first, as callgate's replies put it.
const reply = (id: unknown, hit: boolean): string => `{"id":${JSON.stringify(id)},"verdict":"${hit ? 'block' : 'allow'}"}`;

const http = createServer((req, res) => {
  if (req.url === '/metrics') {
    const { user, system } = process.cpuUsage();
    res.end(`process_cpu_seconds_total ${(user + system) / 1e6}\n`);
    return;
  }
  res.statusCode = 404;
  res.end();
});
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 1024 * 1024 });
wss.on('connection', (ws: WebSocket) => {
  ws.on('message', (data: RawData) => {
    let msg: { id?: unknown; number?: unknown };
    try {
      msg = JSON.parse((data as Buffer).toString('utf8')) as { id?: unknown; number?: unknown };
    } catch {
      ws.send('{"error":"bad frame"}');
      return;
    }
    const found = lookup(typeof msg.number === 'string' ? msg.number : '');
    if (typeof found === 'boolean') ws.send(reply(msg.id, found));
    else found.then((hit) => ws.send(reply(msg.id, hit)), () => ws.send(reply(msg.id, true)));
  });
  ws.on('error', () => ws.terminate());
});
http.listen(Number(values.port), '127.0.0.1', () => {
  const addr = http.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});
process.on('SIGTERM', () => {
  wss.close();
  http.close(() => process.exit(0));
});
