/**
 * A private redis-server on a free port for fault tests (kill -STOP, stop, restart on the same port) and for
 * settings the shared Redis must not see (maxmemory-policy). Talks RESP through redis-cli, not a client library.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** pid of the running redis-server (changes on restart). */
  pid(): number;
  /** Runs one command through redis-cli; returns its raw output, trimmed. */
  cli(...args: string[]): Promise<string>;
  signal(sig: NodeJS.Signals): void;
  /** Stops the server (SIGKILL, so nothing is saved) and waits for its exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** extraArgs: more redis-server flags, e.g. ['--rename-command', 'CONFIG', '']. */
export async function startPrivateRedis(extraArgs: readonly string[] = []): Promise<PrivateRedis> {
  const port = await freePort();
  // Its own working directory: a replica's full sync writes dump.rdb there, which any later redis-server started in
  // the same directory (the checkout) would load at start — another test's keys in a "fresh" server.
  const dir = mkdtempSync(join(tmpdir(), 'callgate-redis-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const cli = async (...args: string[]): Promise<string> => {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 30_000, maxBuffer: 256 * 1024 * 1024 });
    return stdout.trim();
  };

  const start = async (): Promise<void> => {
    // Empty at every start, even after a full sync wrote a snapshot.
    rmSync(join(dir, 'dump.rdb'), { force: true });
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extraArgs],
      { stdio: 'ignore' },
    );
    child = proc;
    exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${proc.exitCode}`);
      try {
        if ((await cli('PING')) === 'PONG') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: () => {
      if (child?.pid === undefined) throw new Error('redis-server not running');
      return child.pid;
    },
    cli,
    signal: (sig) => {
      if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, sig);
    },
    stop: async () => {
      if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        // A stopped (SIGSTOP) process still dies on SIGKILL.
        process.kill(child.pid, 'SIGKILL');
      }
      await exited;
    },
    start,
  };
}

/** Runs redis-cli against any Redis URL; input, when given, is one command per line. Output trimmed. */
export async function redisCli(url: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn('redis-cli', ['-u', url, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.once('error', reject);
    // redis-cli given its command as arguments may exit before reading stdin: EPIPE is not an error here.
    proc.stdin.on('error', () => undefined);
    proc.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`redis-cli ${args.join(' ')} exited ${code}: ${err}`))));
    proc.stdin.end(input ?? '');
  });
}
