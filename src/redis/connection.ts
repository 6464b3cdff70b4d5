/**
 * The connections of Redis mode, and the only file that imports ioredis. Two long-lived connections: 'fast'
 * carries confirms and small fleet commands (lock renewals, heartbeats, outcomes), so that bulk traffic (a 25 MB
 * filter, 60k SADDs) never queues in front of a check waiting on a 50 ms budget; 'bulk' carries the rest.
 * Pub/sub and each change-follower loop get dedicated connections (dial()): SUBSCRIBE and XREAD BLOCK hold one.
 * A third long-lived connection, 'durability', exists only when writes wait for replicas (redis/durability.ts):
 * WAIT blocks the connection it runs on, so it never runs on fast or bulk.
 *
 * Every connection fails fast while disconnected (no offline queue: a queued confirm would answer after the
 * dialer gave up on it), reconnects forever with capped backoff, and has the Lua scripts defined
 * (redis/scripts.ts). Also here: Redis's clock (TIME) and the server facts the eviction watch reads, and the
 * direct EVALSHA / EVAL sends of the two hot-path scripts (sendEvalsha, sendEval).
 *
 * "Forever" needs help from here: ioredis ends a client for good (status 'end': no more reconnections, every
 * command fails with "Connection is closed.") when its connector is disconnected while a reconnection attempt is
 * under way. With Sentinel, its fail-over detector does exactly that when +switch-master arrives while a connection
 * is redialling the dead master, which a slow machine makes likely (seen: bulk, and once fast too, ended for good in
 * 2 of 3 runs of the fail-over loss test with 4 CPU burners on 2 cores; ioredis issue 1683 reports the same).
 * So a connection that ends without its owner having released it (disconnect(), quit(), close()) is connected again.
 */
import { Command as RedisCommand, Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { positive, redisError } from './errors.js';
import type { ScriptDefinition, Scripts } from './scripts.js';

/** The ioredis commands the parts of redis/ use: a new one is added here, in sight of this file's review. */
type Command =
  | 'status' | 'on' | 'disconnect' | 'quit' | 'pipeline' | 'script' | 'subscribe'
  | 'get' | 'set' | 'append' | 'strlen' | 'exists' | 'getrangeBuffer' | 'mget' | 'pexpire' | 'pttl' | 'scan' | 'unlink'
  | 'hset' | 'hgetall' | 'smembers'
  | 'zadd' | 'zrem' | 'zrange' | 'zscore' | 'zrangebyscore' | 'zremrangebyscore' | 'zscan'
  | 'xread' | 'xrevrange' | 'xinfo' | 'incr' | 'wait' | 'ping' | 'info' | 'sendCommand';

/** A connection with callgate's scripts defined: the typed surface the other parts of redis/ use. */
export type Client = Pick<Redis, Command> & Scripts;

/** What this file holds: the whole ioredis client. */
type FullClient = Redis & Scripts;

export interface ConnectionOptions {
  /** redis:// or rediss:// (TLS). With sentinels, only credentials and db are taken from it. @default 'redis://127.0.0.1:6379' */
  readonly url?: string | undefined;
  /** Sentinel addresses; when set, the master is found through them. @default undefined */
  readonly sentinels?: ReadonlyArray<{ readonly host: string; readonly port: number }> | undefined;
  /** Master group name, required with sentinels. @default undefined */
  readonly sentinelName?: string | undefined;
  /** ready() rejects when Redis is not ready within this. @default 10000 */
  readonly connectTimeoutMs?: number | undefined;
  /**
   * Reconnection backoff cap; reconnection never stops. With sentinels each retry asks them for the master, and
   * a lower cap reaches a promoted replica sooner after a kill (measured: promotion + 1–1.6 s at 2000). @default 2000, 500 with sentinels
   */
  readonly reconnectMaxDelayMs?: number | undefined;
  /** A connection with a command outstanding and no byte received for this long is dropped and redialled (a hung server). @default 5000 */
  readonly hungSocketMs?: number | undefined;
  /** Connection state changes of the fast connection, for logs. @default undefined */
  readonly onStateChange?: ((state: 'up' | 'down') => void) | undefined;
  /** Connection errors (ioredis 'error' events), for logs. @default undefined */
  readonly onError?: ((err: Error) => void) | undefined;
  /**
   * A connection that ioredis ended for good although nobody released it (see the file header), with its name,
   * the last error it reported and the delay before it is connected again: a warning for the logs. @default undefined
   */
  readonly onRevive?: ((name: string, lastError: string, delayMs: number) => void) | undefined;
  /** Open the 'durability' connection (writes wait for replicas, redis/durability.ts). @default false */
  readonly durability?: boolean | undefined;
}

export interface ServerStats {
  readonly runId: string;
  /** INFO evicted_keys; null when the server does not report it. */
  readonly evicted: number | null;
  readonly policy: string;
  /** INFO role ('master' or 'slave'); '' when the server does not report it. */
  readonly role: string;
  /** INFO connected_slaves; null when the server does not report it. */
  readonly replicas: number | null;
  /** INFO aof_enabled; null when the server does not report it. */
  readonly aof: boolean | null;
}

export class Connection {
  /** Confirms, decides and small fleet commands. */
  readonly fast: Client;
  /** Loads, reads, scans, stats: anything that may be large or slow. */
  readonly bulk: Client;
  /** WAIT for replicas (redis/durability.ts); null unless options.durability. */
  readonly durability: Client | null;
  readonly #fastFull: FullClient;
  readonly #bulkFull: FullClient;
  readonly #durabilityFull: FullClient | null;
  /** Counts the drops of fast, bulk and durability: a write and the WAIT covering it must see the same count. */
  #drops = 0;
  readonly reconnectMaxDelayMs: number;
  readonly hungSocketMs: number;
  readonly #make: (name: string, extra: RedisOptions) => FullClient;
  readonly #connectTimeoutMs: number;
  readonly #url: string;
  readonly #onStateChange: ((state: 'up' | 'down') => void) | undefined;
  #up = false;
  #closed = false;

  /**
   * Validates the options and starts connecting (fast and bulk); ready() waits for them. Throws
   * CALLGATE_ERR_CONFIG on bad options.
   */
  constructor(options: ConnectionOptions, scripts: readonly ScriptDefinition[]) {
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    positive('connectTimeoutMs', connectTimeoutMs);
    const maxDelay = options.reconnectMaxDelayMs ?? (options.sentinels !== undefined && options.sentinels.length > 0 ? 500 : 2000);
    positive('reconnectMaxDelayMs', maxDelay);
    positive('hungSocketMs', options.hungSocketMs ?? 5000);
    const url = options.url ?? 'redis://127.0.0.1:6379';
    if (!/^rediss?:\/\//.test(url)) {
      throw new CallgateError(ErrorCode.CONFIG, `Redis URL must start with redis:// or rediss://, got ${JSON.stringify(maskUrl(url))}`);
    }
    if (options.sentinels !== undefined && options.sentinels.length > 0 && !options.sentinelName) {
      throw new CallgateError(ErrorCode.CONFIG, 'sentinelName is required with sentinels');
    }
    const base: RedisOptions = {
      // Fail fast while disconnected: a queued confirm would answer after the dialer gave up on it.
      enableOfflineQueue: false,
      // Reconnect forever with capped exponential backoff.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 16), maxDelay),
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: Math.min(connectTimeoutMs, 10_000),
      // A dropped connection is destroyed after this if the server does not acknowledge the close: a paused
      // master never does, and ioredis's 2 s default delayed the switch after +switch-master by as much (measured).
      disconnectTimeout: 200,
      ...(options.sentinels !== undefined && options.sentinels.length > 0
        ? {
            sentinels: options.sentinels.map((s) => ({ host: s.host, port: s.port })),
            name: options.sentinelName,
            // Drop the connection on the sentinels' +switch-master instead of waiting for the old master to
            // close it (a paused one never does): checks reach the promoted replica sooner.
            failoverDetector: true,
          }
        : {}),
    };
    this.#make = (name, extra) => {
      const client = new Redis(url, { ...base, ...extra, connectionName: `callgate-${name}` }) as FullClient;
      client.on('error', (err: Error) => options.onError?.(err));
      for (const { command, lua, numberOfKeys } of scripts) {
        client.defineCommand(command, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
      }
      this.#keepConnecting(client, name, maxDelay, options.onRevive);
      return client;
    };
    this.#connectTimeoutMs = connectTimeoutMs;
    this.#url = url;
    this.#onStateChange = options.onStateChange;
    this.reconnectMaxDelayMs = maxDelay;
    this.hungSocketMs = options.hungSocketMs ?? 5000;
    this.#fastFull = this.#make('confirm', { socketTimeout: this.hungSocketMs });
    this.#bulkFull = this.#make('bulk', {});
    // WAIT holds its connection up to its own timeout: no hung-socket timer here (durability.ts bounds each round).
    this.#durabilityFull = options.durability === true ? this.#make('durability', {}) : null;
    this.fast = this.#fastFull;
    this.bulk = this.#bulkFull;
    this.durability = this.#durabilityFull;
    this.fast.on('ready', () => this.#setUp(true));
    this.fast.on('close', () => this.#setUp(false));
    for (const client of [this.#fastFull, this.#bulkFull, this.#durabilityFull]) client?.on('close', () => this.#drops++);
  }

  /**
   * How many times fast, bulk or durability dropped so far. A write made before a drop may have reached a
   * master that a fail-over then replaced: a WAIT on the new master says nothing of it (redis/durability.ts).
   */
  get drops(): number {
    return this.#drops;
  }

  /** Resolves when fast and bulk (and durability when open) are ready; rejects with CALLGATE_ERR_REDIS after connectTimeoutMs. */
  async ready(): Promise<void> {
    await Promise.all(
      [this.#fastFull, this.#bulkFull, this.#durabilityFull].flatMap((c) => (c === null ? [] : [whenReady(c, this.#connectTimeoutMs, this.#url)])),
    );
  }

  /** Calls listener each time fast or bulk becomes ready (a reconnection may reach another server). */
  onReady(listener: () => void): void {
    for (const client of [this.fast, this.bulk]) client.on('ready', listener);
  }

  /** Opens one more connection with the same settings, ready or rejected (and disconnected). */
  async dial(name: string, extra: { readonly socketTimeout?: number } = {}): Promise<Client> {
    const client = this.#make(name, extra);
    try {
      await whenReady(client, this.#connectTimeoutMs, this.#url);
    } catch (err) {
      client.disconnect();
      throw err;
    }
    return client;
  }

  /** True while the fast connection is ready. */
  isUp(): boolean {
    return this.fast.status === 'ready';
  }

  /** True once close() began: parts stop answering and refuse new loops. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Marks the connections closing (first step of RedisStore.close()); false when they already were. */
  beginClose(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    return true;
  }

  /** Quits fast and bulk (1 s each at most, then disconnects). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([quit(this.#fastFull), quit(this.#bulkFull), quit(this.#durabilityFull)]);
    this.#setUp(false);
  }

  /** Redis's clock, ms. Throws CALLGATE_ERR_REDIS. */
  async now(): Promise<number> {
    try {
      const [seconds, micros] = await this.#bulkFull.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    } catch (err) {
      throw redisError('reading TIME', err);
    }
  }

  /** Reads run_id, evicted_keys and maxmemory_policy from one INFO (CONFIG GET for the policy when INFO lacks it). */
  async serverStats(): Promise<ServerStats> {
    let info = '';
    try {
      info = await this.#bulkFull.info();
    } catch (err) {
      if (!(err instanceof Error) || !/unknown command|NOPERM|disabled/i.test(err.message)) throw err;
    }
    const field = (name: string): string | undefined => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
    const count = (name: string): number | null => {
      const v = field(name);
      return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
    };
    const aof = field('aof_enabled');
    return {
      runId: field('run_id') ?? '',
      evicted: count('evicted_keys'),
      policy: field('maxmemory_policy') ?? (await this.evictionPolicy()),
      role: field('role') ?? '',
      replicas: count('connected_slaves'),
      aof: aof === undefined ? null : aof === '1',
    };
  }

  /**
   * The role (ROLE: 'master', 'slave', 'sentinel') of the server each ready connection (fast, bulk) is on: after
   * a fail-over they reconnect separately and may, for a moment, reach different servers. A server refusing ROLE
   * is left out (INFO's role covers bulk). Throws on any other Redis error.
   */
  async roles(): Promise<string[]> {
    const roles: string[] = [];
    for (const client of [this.#fastFull, this.#bulkFull]) {
      if (client.status !== 'ready') continue;
      let reply: unknown;
      try {
        reply = await client.call('ROLE');
      } catch (err) {
        // Some managed Redis refuse ROLE: INFO's role (serverStats) still tells, for the bulk connection.
        if (err instanceof Error && /unknown command|NOPERM|disabled/i.test(err.message)) continue;
        throw err;
      }
      const first: unknown = Array.isArray(reply) ? reply[0] : undefined;
      roles.push(typeof first === 'string' ? first : String(first));
    }
    return roles;
  }

  /** maxmemory-policy, from CONFIG GET or else INFO memory. Throws CALLGATE_ERR_REDIS or CALLGATE_ERR_REDIS_EVICTION. */
  async evictionPolicy(): Promise<string> {
    try {
      const reply: unknown = await this.#bulkFull.config('GET', 'maxmemory-policy');
      const flat: unknown[] = Array.isArray(reply) ? reply : reply instanceof Map ? [...reply].flat() : Object.entries(reply ?? {}).flat();
      const at = flat.indexOf('maxmemory-policy');
      const value = at >= 0 ? flat[at + 1] : undefined;
      if (typeof value === 'string') return value;
    } catch {
      // CONFIG is often disabled on managed Redis; INFO still tells.
    }
    try {
      const info = await this.#bulkFull.info('memory');
      const match = /^maxmemory_policy:(\S+)/m.exec(info);
      if (match?.[1]) return match[1];
    } catch (err) {
      throw redisError('reading maxmemory-policy', err);
    }
    throw new CallgateError(ErrorCode.REDIS_EVICTION, 'cannot read Redis maxmemory-policy (neither CONFIG GET nor INFO memory tell it)');
  }

  /**
   * Connects `client` again whenever ioredis ends it while its owner still holds it (the file header says how that
   * happens). Released means disconnect() or quit() was called on it (dial()'s owners, quit() below) or close() began;
   * looked at when it ends and again when the delay has passed (a QUIT's own 'end' is never revived).
   */
  #keepConnecting(client: FullClient, name: string, maxDelay: number, onRevive: ConnectionOptions['onRevive']): void {
    let released = false;
    let revivals = 0;
    let lastError = '';
    const disconnect = client.disconnect.bind(client);
    client.disconnect = (reconnect = false): void => {
      // disconnect(true) asks for a reconnection: the client is still held.
      if (!reconnect) released = true;
      disconnect(reconnect);
    };
    const quitCommand = client.quit.bind(client);
    client.quit = (callback) => {
      released = true;
      return quitCommand(callback);
    };
    client.on('error', (err: Error) => (lastError = err.message));
    client.on('ready', () => (revivals = 0));
    client.on('end', () => {
      if (released || this.#closed) return;
      // The same capped backoff as ioredis's own reconnections: an ending that repeats does not spin.
      const delayMs = Math.min(50 * 2 ** Math.min(revivals++, 16), maxDelay);
      onRevive?.(name, lastError, delayMs);
      setTimeout(() => {
        if (released || this.#closed || client.status !== 'end') return;
        // A connect() that fails ends the client again, which comes back here.
        client.connect().catch(() => undefined);
      }, delayMs).unref();
    });
  }

  #setUp(up: boolean): void {
    if (up === this.#up) return;
    this.#up = up;
    this.#onStateChange?.(up ? 'up' : 'down');
  }
}

/** Script replies as strings, as defineCommand's commands answer them. */
const UTF8 = { replyEncoding: 'utf8' } as const;

/**
 * EVALSHA of a hot-path script (redis/confirm.ts), sent as one prebuilt command: defineCommand's wrapper copied the
 * arguments three times, chained a promise for its NOSCRIPT retry and wrapped each command's reject (issue 17).
 * `args` is [sha, numkeys, ...keys, ...argv]. The promise rejects on any error, NOSCRIPT included: the caller
 * then sends the same arguments once with sendEval (NOSCRIPT means the script did not run).
 */
export function sendEvalsha(client: Client, args: ReadonlyArray<string | number>): Promise<unknown> {
  return client.sendCommand(new RedisCommand('evalsha', args as Array<string | number>, UTF8)) as Promise<unknown>;
}

/** EVAL of `lua` with sendEvalsha's arguments (its sha in args[0] is replaced): runs the script and caches it again. */
export function sendEval(client: Client, lua: string, args: ReadonlyArray<string | number>): Promise<unknown> {
  const withText = args.slice();
  withText[0] = lua;
  return client.sendCommand(new RedisCommand('eval', withText, UTF8)) as Promise<unknown>;
}

/** True when Redis answered that it does not hold the script (a restart, SCRIPT FLUSH, a promoted replica). */
export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.includes('NOSCRIPT');
}

/** QUIT within 1 s when ready, then disconnect; null is a no-op. */
export async function quit(client: Client | null): Promise<void> {
  if (client === null) return;
  if (client.status === 'ready') {
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
    await Promise.race([client.quit().then(() => undefined, () => undefined), timeout]);
  }
  client.disconnect();
}

function whenReady(client: FullClient, timeoutMs: number, url: string): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined;
    const onError = (err: Error): void => {
      lastError = err;
    };
    const onReady = (): void => {
      clearTimeout(timer);
      client.off('error', onError);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      client.off('error', onError);
      reject(
        new CallgateError(ErrorCode.REDIS, `Redis at ${maskUrl(url)} not ready within ${timeoutMs} ms${lastError ? `: ${lastError.message}` : ''}`, {
          cause: lastError,
        }),
      );
    }, timeoutMs);
    client.once('ready', onReady);
    client.on('error', onError);
  });
}

/** Hides the password of a Redis URL in messages. */
export function maskUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
