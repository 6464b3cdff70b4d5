/**
 * A private Sentinel topology for fail-over tests: one master, N replicas (--replicaof) and three sentinels,
 * every process started here on free loopback ports and stopped by pid. Builds on redis-server.ts (freePort,
 * startPrivateRedis) and, like it, talks RESP through redis-cli. Each sentinel writes its own config file in
 * a temp dir (Sentinel rewrites it on every state change).
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startPrivateRedis, type PrivateRedis } from './redis-server.js';

const run = promisify(execFile);

export interface Address {
  readonly host: string;
  readonly port: number;
}

export interface SentinelOptions {
  /** Replicas of the first master. @default 1 */
  readonly replicas?: number;
  /** Master group name. @default 'callgate' */
  readonly masterName?: string;
  /** sentinel down-after-milliseconds. @default 1000 */
  readonly downAfterMs?: number;
  /** sentinel failover-timeout. @default 3000 */
  readonly failoverTimeoutMs?: number;
  /** More redis-server flags for every data node, e.g. ['--min-replicas-to-write', '1']. */
  readonly redisArgs?: readonly string[];
}

export interface SentinelProcess {
  readonly port: number;
  /** Runs one command through redis-cli against this sentinel; raw output, trimmed. */
  cli(...args: string[]): Promise<string>;
  pid(): number;
}

export interface SentinelTopology {
  readonly masterName: string;
  readonly downAfterMs: number;
  readonly failoverTimeoutMs: number;
  /** Data nodes; nodes[0] is the first master, the others its replicas (roles change on fail-over). */
  readonly nodes: readonly PrivateRedis[];
  readonly sentinels: readonly SentinelProcess[];
  /** The sentinels' addresses, for --redis-sentinels / ConnectionOptions.sentinels. */
  readonly sentinelAddresses: readonly Address[];
  /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3", the --redis-sentinels value. */
  readonly sentinelList: string;
  /** The master one sentinel reports (SENTINEL get-master-addr-by-name); sentinels[0] unless told. */
  currentMaster(sentinel?: number): Promise<Address>;
  /** The data node listening on this port. */
  node(port: number): PrivateRedis;
  /** The data node that is master now (per sentinels[0]). */
  masterNode(): Promise<PrivateRedis>;
  /** Waits until every sentinel names another master than oldPort and that node's ROLE says master. */
  waitForPromotion(oldPort: number, timeoutMs?: number): Promise<Address>;
  /** Waits until every sentinel knows the master, `replicas` replicas and the two other sentinels, all up. */
  waitForTopology(replicas?: number, timeoutMs?: number): Promise<void>;
  /** kill -9 (the process is gone; node.start() brings it back empty on the same port). */
  kill(node: PrivateRedis): Promise<void>;
  pause(node: PrivateRedis): void;
  resume(node: PrivateRedis): void;
  /** Stops every process by pid (SIGKILL, a paused one too) and removes the temp dirs. Idempotent. */
  stop(): Promise<void>;
}

/** Every topology started in this process; a test that forgot stop() still leaves nothing running at exit. */
const live = new Set<SentinelTopology>();
process.once('exit', () => {
  for (const t of live) {
    for (const p of [...t.sentinels, ...t.nodes]) {
      try {
        killQuietly(p.pid());
      } catch {
        // not running
      }
    }
  }
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function until(probe: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await sleep(100);
  }
}

/** One field of INFO output ("name:value" lines). */
export function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

async function startSentinel(masterName: string, master: Address, downAfterMs: number, failoverTimeoutMs: number, dirs: string[]): Promise<SentinelProcess & { child: ChildProcess; exited: Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'callgate-sentinel-'));
  dirs.push(dir);
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'protected-mode no',
      'daemonize no',
      `dir ${dir}`,
      'logfile ""',
      `sentinel monitor ${masterName} ${master.host} ${master.port} 2`,
      `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
      `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-sentinel', [conf], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(`cannot start redis-sentinel (is it installed?): ${err.message}`))));
  const cli = async (...args: string[]): Promise<string> => {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
    return stdout.trim();
  };
  const ping = until(
    async () => {
      if (child.exitCode !== null) throw new Error(`redis-sentinel exited with ${child.exitCode}`);
      return (await cli('PING')) === 'PONG';
    },
    `redis-sentinel on port ${port}`,
    10_000,
  );
  await Promise.race([ping, spawnFailed]);
  return {
    port,
    cli,
    child,
    exited,
    pid: () => {
      if (child.pid === undefined) throw new Error('redis-sentinel not running');
      return child.pid;
    },
  };
}

/**
 * Starts master, replicas and three sentinels (quorum 2) and waits until the sentinels agree on the
 * topology. On any failure everything started so far is stopped before the error is thrown.
 */
export async function startSentinelTopology(options: SentinelOptions = {}): Promise<SentinelTopology> {
  const masterName = options.masterName ?? 'callgate';
  const downAfterMs = options.downAfterMs ?? 1000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 3000;
  const replicaCount = options.replicas ?? 1;
  const redisArgs = options.redisArgs ?? [];
  const nodes: PrivateRedis[] = [];
  const sentinels: Array<SentinelProcess & { child: ChildProcess; exited: Promise<void> }> = [];
  const dirs: string[] = [];
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const s of sentinels) if (s.child.exitCode === null && s.child.signalCode === null) killQuietly(s.pid());
    await Promise.all([...sentinels.map((s) => s.exited), ...nodes.map((n) => n.stop())]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    live.delete(topology);
  };

  const currentMaster = async (sentinel = 0): Promise<Address> => {
    const s = sentinels[sentinel];
    if (s === undefined) throw new Error(`no sentinel ${sentinel}`);
    const [host, port] = (await s.cli('SENTINEL', 'get-master-addr-by-name', masterName)).split('\n').map((l) => l.trim());
    if (!host || !port || !/^\d+$/.test(port)) throw new Error(`sentinel ${s.port} does not know master ${masterName}`);
    return { host, port: Number(port) };
  };

  const node = (port: number): PrivateRedis => {
    const n = nodes.find((x) => x.port === port);
    if (n === undefined) throw new Error(`no data node on port ${port}`);
    return n;
  };

  const waitForTopology = async (replicas = replicaCount, timeoutMs = 30_000): Promise<void> => {
    await until(
      async () => {
        for (const s of sentinels) {
          // master0:name=callgate,status=ok,address=127.0.0.1:port,slaves=1,sentinels=3
          const line = infoField(await s.cli('INFO', 'sentinel'), 'master0') ?? '';
          if (!line.includes(`name=${masterName},`) || !line.includes('status=ok') || !line.includes(`slaves=${replicas},`) || !line.includes('sentinels=3')) return false;
          // Known replicas are not necessarily up: each must be a plain "slave" (no s_down/disconnected).
          const listed = await s.cli('SENTINEL', 'replicas', masterName);
          const flags = listed.split('\n').filter((_, i, all) => all[i - 1]?.trim() === 'flags').map((l) => l.trim());
          if (flags.length !== replicas || flags.some((f) => f !== 'slave')) return false;
        }
        return true;
      },
      `sentinels to agree on ${masterName} with ${replicas} replica(s) and 3 sentinels`,
      timeoutMs,
    );
  };

  const waitForPromotion = async (oldPort: number, timeoutMs = 30_000): Promise<Address> => {
    let promoted: Address | undefined;
    await until(
      async () => {
        const seen = await Promise.all(sentinels.map((_, i) => currentMaster(i)));
        const first = seen[0];
        if (first === undefined || first.port === oldPort || seen.some((a) => a.port !== first.port)) return false;
        const role = (await node(first.port).cli('ROLE')).split('\n')[0]?.trim();
        if (role !== 'master') return false;
        promoted = first;
        return true;
      },
      `a promotion away from port ${oldPort}`,
      timeoutMs,
    );
    if (promoted === undefined) throw new Error('unreachable: promotion without an address');
    return promoted;
  };

  const topology: SentinelTopology = {
    masterName,
    downAfterMs,
    failoverTimeoutMs,
    nodes,
    sentinels,
    get sentinelAddresses() {
      return sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
    },
    get sentinelList() {
      return sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
    },
    currentMaster,
    node,
    masterNode: async () => node((await currentMaster()).port),
    waitForPromotion,
    waitForTopology,
    kill: async (n) => n.stop(),
    pause: (n) => n.signal('SIGSTOP'),
    resume: (n) => n.signal('SIGCONT'),
    stop,
  };
  live.add(topology);

  try {
    const master = await startPrivateRedis(redisArgs);
    nodes.push(master);
    for (let i = 0; i < replicaCount; i++) nodes.push(await startPrivateRedis(['--replicaof', '127.0.0.1', String(master.port), ...redisArgs]));
    await until(
      async () => {
        for (const r of nodes.slice(1)) if (infoField(await r.cli('INFO', 'replication'), 'master_link_status') !== 'up') return false;
        return true;
      },
      'replicas to sync with the master',
      30_000,
    );
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(masterName, { host: '127.0.0.1', port: master.port }, downAfterMs, failoverTimeoutMs, dirs));
    await waitForTopology();
  } catch (err) {
    await stop();
    throw err;
  }
  return topology;
}
