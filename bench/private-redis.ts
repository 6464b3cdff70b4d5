/**
 * A private redis-server on a free loopback port, for this benchmark only (never the shared one at 6379:
 * others use it, and its load would disturb the figures). No persistence; stopped with the benchmark.
 */
import { createServer, connect } from 'node:net';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { collectOutput, spawnTracked } from './children.js';

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  readonly version: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Sends one inline command and resolves with the first reply line. */
export function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    sock.setEncoding('utf8');
    sock.once('error', reject);
    sock.on('connect', () => sock.write(`${command}\r\n`));
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\r\n')) {
        sock.destroy();
        resolve(buf);
      }
    });
  });
}

function redisVersion(): string {
  const text = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
  return /v=(\S+)/.exec(text)?.[1] ?? text.trim();
}

/** extraArgs: more redis-server flags, e.g. ['--replicaof', '127.0.0.1', '6380'] (bench/redis-wait.ts). */
export async function startPrivateRedis(extraArgs: readonly string[] = []): Promise<PrivateRedis> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    // Its own --dir: a replica's full sync writes dump.rdb, which must not land in the checkout.
    const child = spawnTracked('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', tmpdir(), '--dbfilename', `bench-${port}.rdb`, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--maxmemory-policy', 'noeviction', ...extraArgs]);
    const out = collectOutput(child);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        if ((await redisCommand(port, 'PING')).startsWith('+PONG')) {
          return { port, url: `redis://127.0.0.1:${port}`, child, version: redisVersion() };
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    process.stderr.write(`bench: redis-server on ${port} did not start (${out.stdout().slice(-300)}); retrying\n`);
  }
  throw new Error('could not start a private redis-server');
}
