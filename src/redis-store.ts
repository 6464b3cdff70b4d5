/**
 * The Redis store (Redis mode): exact list members shared by a fleet of sidecars, versioned by generation.
 * The only file that imports ioredis. Key layout and bucketing: redis-keys.ts.
 *
 * Fail-closed: confirm() never throws and answers 'absent' only when Redis said so with the generation's
 * marker present. Vanished keys (restart without persistence, eviction, a deleted generation) read
 * 'unconfirmed', and the caller blocks.
 *
 * Two connections: confirms go on their own so that bulk traffic (a 25 MB filter, 60k SADDs) never queues
 * in front of a check waiting on a 50 ms budget.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { CallgateError, ErrorCode } from './errors.js';
import type { NumberKey } from './number-key.js';
import {
  BUCKET_LAYOUT,
  DEFAULT_PREFIX,
  assertGenerationId,
  assertListName,
  assertPrefix,
  bucketCount,
  bucketIndexOf,
  bucketKey,
  bucketPattern,
  decodeMarker,
  encodeMarker,
  filterKey,
  highOf,
  listsKey,
  markerKey,
  memberOf,
  newGenerationId,
  pointerKey,
} from './redis-keys.js';
import type { GenerationMarker, ListKind } from './redis-keys.js';

export type Confirmation = 'member' | 'absent' | 'unconfirmed';

export interface ConfirmItem {
  readonly list: string;
  readonly generation: string;
  readonly buckets: number;
  readonly key: NumberKey;
}

export interface WriteGenerationInput {
  readonly list: string;
  readonly kind: ListKind;
  /** Sorted, unique keys. */
  readonly keys: Float64Array;
  /** The Bloom filter's binary form, stored opaque. */
  readonly filter: Buffer;
  readonly normaliserVersion: string;
  readonly hashId: string;
  /** sha256 of the source list, lowercase hex. */
  readonly fingerprint: string;
  readonly sourceDate?: string | undefined;
  /** @default a new time-sortable id */
  readonly generation?: string | undefined;
}

export interface RedisStoreOptions {
  /** redis:// or rediss:// (TLS). With sentinels, only credentials and db are taken from it. @default 'redis://127.0.0.1:6379' */
  readonly url?: string | undefined;
  /** Prefix of every key. @default 'callgate:' */
  readonly prefix?: string | undefined;
  /** A confirm not answered within this reads 'unconfirmed' for all its items. @default 50 */
  readonly confirmTimeoutMs?: number | undefined;
  /** Sentinel addresses; when set, the master is found through them. @default undefined */
  readonly sentinels?: ReadonlyArray<{ readonly host: string; readonly port: number }> | undefined;
  /** Master group name, required with sentinels. @default undefined */
  readonly sentinelName?: string | undefined;
  /**
   * Accept an allkeys-* maxmemory-policy. Redis may then evict members, which confirm() reads as
   * 'unconfirmed' only if the marker went too; an evicted bucket with its marker kept reads 'absent'.
   * @default false
   */
  readonly allowEviction?: boolean | undefined;
  /** connect() rejects when Redis is not ready within this. @default 10000 */
  readonly connectTimeoutMs?: number | undefined;
  /** Reconnection backoff cap; reconnection never stops. @default 2000 */
  readonly reconnectMaxDelayMs?: number | undefined;
  /** Confirms sent but not answered (even past their timeout) above which new ones read 'unconfirmed' unsent. @default 1000 */
  readonly maxConfirmsInFlight?: number | undefined;
  /** A connection with a command outstanding and no byte received for this long is dropped and redialled (a hung server). @default 5000 */
  readonly hungSocketMs?: number | undefined;
  /** Connection state changes of the confirm connection, for logs. @default undefined */
  readonly onStateChange?: ((state: 'up' | 'down') => void) | undefined;
  /** Connection errors (ioredis 'error' events), for logs. @default undefined */
  readonly onError?: ((err: Error) => void) | undefined;
}

interface Scripts {
  cgConfirm(numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  cgSwitch(pointer: string, lists: string, marker: string, list: string, generation: string): Promise<unknown>;
}
type Client = Redis & Scripts;

// KEYS: marker1, bucket1, marker2, bucket2, ...; ARGV: member1, member2, ...
// Marker check and membership run in one script, so a generation deleted marker-first can never read 'absent'.
const CONFIRM_LUA = `
local out = {}
local seen = {}
for i = 1, #ARGV do
  local marker = KEYS[2 * i - 1]
  local present = seen[marker]
  if present == nil then
    present = redis.call('EXISTS', marker)
    seen[marker] = present
  end
  if present == 0 then
    out[i] = -1
  else
    out[i] = redis.call('SISMEMBER', KEYS[2 * i], ARGV[i])
  end
end
return out
`;

// Refuses to point at a generation without a marker (incomplete or deleted); returns the previous pointer.
const SWITCH_LUA = `
if redis.call('EXISTS', KEYS[3]) == 0 then return {0, false} end
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return {1, previous}
`;

const COMMANDS_PER_FLUSH = 256;
const FILTER_CHUNK_BYTES = 1 << 20;
const UNLINK_BATCH = 500;

export class RedisStore {
  readonly prefix: string;
  readonly #fast: Client;
  readonly #bulk: Client;
  readonly #confirmTimeoutMs: number;
  readonly #maxInFlight: number;
  readonly #allowEviction: boolean;
  #inFlight = 0;
  #up = false;
  #closed = false;
  readonly #onStateChange: ((state: 'up' | 'down') => void) | undefined;

  private constructor(fast: Client, bulk: Client, prefix: string, options: RedisStoreOptions) {
    this.#fast = fast;
    this.#bulk = bulk;
    this.prefix = prefix;
    this.#confirmTimeoutMs = options.confirmTimeoutMs ?? 50;
    this.#maxInFlight = options.maxConfirmsInFlight ?? 1000;
    this.#allowEviction = options.allowEviction ?? false;
    this.#onStateChange = options.onStateChange;
    fast.on('ready', () => this.#setUp(true));
    fast.on('close', () => this.#setUp(false));
  }

  /** Connects both connections and waits until they are ready (rejects with CALLGATE_ERR_REDIS after connectTimeoutMs). */
  static async connect(options: RedisStoreOptions = {}): Promise<RedisStore> {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    assertPrefix(prefix);
    const confirmTimeoutMs = options.confirmTimeoutMs ?? 50;
    positive('confirmTimeoutMs', confirmTimeoutMs);
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    positive('connectTimeoutMs', connectTimeoutMs);
    const maxDelay = options.reconnectMaxDelayMs ?? 2000;
    positive('reconnectMaxDelayMs', maxDelay);
    positive('maxConfirmsInFlight', options.maxConfirmsInFlight ?? 1000);
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
      ...(options.sentinels !== undefined && options.sentinels.length > 0
        ? { sentinels: options.sentinels.map((s) => ({ host: s.host, port: s.port })), name: options.sentinelName }
        : {}),
    };
    const make = (name: string, extra: RedisOptions): Client => {
      const client = new Redis(url, { ...base, ...extra, connectionName: `callgate-${name}` }) as Client;
      client.on('error', (err: Error) => options.onError?.(err));
      client.defineCommand('cgConfirm', { lua: CONFIRM_LUA });
      client.defineCommand('cgSwitch', { lua: SWITCH_LUA, numberOfKeys: 3 });
      return client;
    };
    const fast = make('confirm', { socketTimeout: options.hungSocketMs ?? 5000 });
    const bulk = make('bulk', {});
    const store = new RedisStore(fast, bulk, prefix, options);
    try {
      await Promise.all([whenReady(fast, connectTimeoutMs, url), whenReady(bulk, connectTimeoutMs, url)]);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** True while the confirm connection is ready. */
  isUp(): boolean {
    return this.#fast.status === 'ready';
  }

  /**
   * Checks every item in ONE round trip. Never throws. 'absent' only when Redis answered with the
   * generation's marker present; timeout, disconnection, any error or a vanished marker read 'unconfirmed'.
   */
  confirm(items: readonly ConfirmItem[]): Promise<Confirmation[]> {
    const n = items.length;
    if (n === 0) return Promise.resolve([]);
    const unconfirmed = (): Confirmation[] => new Array<Confirmation>(n).fill('unconfirmed');
    if (this.#closed || this.#fast.status !== 'ready' || this.#inFlight >= this.#maxInFlight) {
      return Promise.resolve(unconfirmed());
    }
    const args: Array<string | number> = new Array<string | number>(3 * n);
    for (let i = 0; i < n; i++) {
      const item = items[i] as ConfirmItem;
      const { key, buckets } = item;
      if (!Number.isSafeInteger(key) || key < 0 || !Number.isSafeInteger(buckets) || buckets < 1) {
        return Promise.resolve(unconfirmed());
      }
      const member = memberOf(key);
      args[2 * i] = markerKey(this.prefix, item.list, item.generation);
      args[2 * i + 1] = bucketKey(this.prefix, item.list, item.generation, `${highOf(key)}.${bucketIndexOf(member, buckets)}`);
      args[2 * n + i] = member;
    }
    return new Promise<Confirmation[]>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        resolve(unconfirmed());
      }, this.#confirmTimeoutMs);
      this.#inFlight++;
      let sent: Promise<unknown>;
      try {
        sent = this.#fast.cgConfirm(2 * n, ...args);
      } catch {
        sent = Promise.reject(new Error('send failed'));
      }
      sent.then(
        (reply) => {
          this.#inFlight--;
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(parseConfirmReply(reply, n));
        },
        () => {
          this.#inFlight--;
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(unconfirmed());
        },
      );
    });
  }

  /**
   * Writes a complete generation: members, then the filter, then the marker LAST (a generation without a
   * marker is incomplete and never read). Does not switch the pointer.
   */
  async writeGeneration(input: WriteGenerationInput): Promise<GenerationMarker> {
    assertListName(input.list);
    const generation = input.generation ?? newGenerationId(Date.now(), randomBytes(4));
    assertGenerationId(generation);
    const { keys, list } = input;
    const buckets = bucketCount(keys.length);
    const marker: GenerationMarker = {
      list,
      kind: input.kind,
      generation,
      count: keys.length,
      normaliserVersion: input.normaliserVersion,
      hashId: input.hashId,
      fingerprint: input.fingerprint,
      sourceDate: input.sourceDate,
      buckets,
      createdAt: new Date().toISOString(),
      filterBytes: input.filter.length,
      layout: BUCKET_LAYOUT,
    };
    // Validates the marker before any write, with the same rules readers apply.
    decodeMarker(encodeMarker(marker));
    try {
      await this.#writeMembers(list, generation, keys, buckets);
      await this.#writeFilter(filterKey(this.prefix, list, generation), input.filter);
      await this.#bulk.hset(markerKey(this.prefix, list, generation), encodeMarker(marker));
    } catch (err) {
      throw redisError(`writing generation ${list}/${generation}`, err);
    }
    return marker;
  }

  async #writeMembers(list: string, generation: string, keys: Float64Array, buckets: number): Promise<void> {
    const counts = new Uint32Array(buckets + 1);
    let pipeline = this.#bulk.pipeline();
    let queued = 0;
    const flush = async (): Promise<void> => {
      if (queued === 0) return;
      const results = await pipeline.exec();
      for (const [err] of results ?? []) if (err) throw err;
      pipeline = this.#bulk.pipeline();
      queued = 0;
    };
    // Keys are sorted, so keys sharing a high part form one run; a counting sort of each run by bucket index
    // groups the members without a Map of arrays (12M keys) and keeps them ascending inside each bucket,
    // so every intset insert is an append.
    let start = 0;
    while (start < keys.length) {
      const high = highOf(keys[start] as number);
      let end = start;
      let previous = -1;
      while (end < keys.length) {
        const key = keys[end] as number;
        if (highOf(key) !== high) break;
        if (!Number.isSafeInteger(key) || key < 0 || key <= previous) {
          throw new CallgateError(ErrorCode.REDIS, `keys must be sorted unique non-negative integers (index ${end})`);
        }
        previous = key;
        end++;
      }
      counts.fill(0);
      const runLength = end - start;
      const index = new Uint32Array(runLength);
      for (let i = 0; i < runLength; i++) {
        const b = bucketIndexOf(memberOf(keys[start + i] as number), buckets);
        index[i] = b;
        (counts[b + 1] as number)++;
      }
      for (let b = 1; b <= buckets; b++) counts[b] = (counts[b] as number) + (counts[b - 1] as number);
      const sorted = new Uint32Array(runLength);
      const cursor = counts.slice(0, buckets);
      for (let i = 0; i < runLength; i++) {
        const b = index[i] as number;
        sorted[(cursor[b] as number)++] = memberOf(keys[start + i] as number);
      }
      for (let b = 0; b < buckets; b++) {
        const from = counts[b] as number;
        const to = counts[b + 1] as number;
        if (from === to) continue;
        pipeline.sadd(bucketKey(this.prefix, list, generation, `${high}.${b}`), ...Array.from(sorted.subarray(from, to)));
        if (++queued >= COMMANDS_PER_FLUSH) await flush();
      }
      start = end;
    }
    await flush();
  }

  async #writeFilter(key: string, filter: Buffer): Promise<void> {
    // SET the first chunk (overwrites leftovers), APPEND the rest: no single command carries 25 MB.
    await this.#bulk.set(key, filter.subarray(0, FILTER_CHUNK_BYTES));
    for (let offset = FILTER_CHUNK_BYTES; offset < filter.length; offset += FILTER_CHUNK_BYTES) {
      await this.#bulk.append(key, filter.subarray(offset, offset + FILTER_CHUNK_BYTES));
    }
    const length = await this.#bulk.strlen(key);
    if (length !== filter.length) {
      throw new CallgateError(ErrorCode.REDIS, `filter ${key} holds ${length} bytes after writing ${filter.length}`);
    }
  }

  /** Points the list at a complete generation (atomic: Lua); returns the previous generation id, if any. */
  async switchCurrent(list: string, generation: string): Promise<string | null> {
    assertListName(list);
    assertGenerationId(generation);
    let reply: unknown;
    try {
      reply = await this.#bulk.cgSwitch(
        pointerKey(this.prefix, list),
        listsKey(this.prefix),
        markerKey(this.prefix, list, generation),
        list,
        generation,
      );
    } catch (err) {
      throw redisError(`switching ${list} to ${generation}`, err);
    }
    if (!Array.isArray(reply) || reply[0] !== 1) {
      throw new CallgateError(ErrorCode.GENERATION_MISMATCH, `cannot switch ${list} to ${generation}: it has no marker (incomplete or deleted)`);
    }
    const previous: unknown = reply[1];
    return typeof previous === 'string' ? previous : null;
  }

  /** The list's current generation, or null when it has none (or its marker vanished). */
  async readCurrent(list: string): Promise<GenerationMarker | null> {
    assertListName(list);
    try {
      // Re-read when the pointer moved between the two reads (a switch then a delete of the old generation).
      for (let attempt = 0; attempt < 3; attempt++) {
        const generation = await this.#bulk.get(pointerKey(this.prefix, list));
        if (generation === null) return null;
        const fields = await this.#bulk.hgetall(markerKey(this.prefix, list, generation));
        if (Object.keys(fields).length > 0) return decodeMarker(fields, { list, generation });
        if ((await this.#bulk.get(pointerKey(this.prefix, list))) === generation) return null;
      }
      return null;
    } catch (err) {
      throw redisError(`reading the current generation of ${list}`, err);
    }
  }

  /** Current generations of every list Redis knows, sorted by list name. */
  async currentLists(): Promise<GenerationMarker[]> {
    let names: string[];
    try {
      names = await this.#bulk.smembers(listsKey(this.prefix));
    } catch (err) {
      throw redisError('reading the list names', err);
    }
    const markers: GenerationMarker[] = [];
    for (const name of names.sort()) {
      const marker = await this.readCurrent(name);
      if (marker) markers.push(marker);
    }
    return markers;
  }

  /** The generation's filter in chunks (a 25 MB reply would stall Redis for others), or null when missing or truncated. */
  async readFilter(marker: GenerationMarker): Promise<Buffer | null> {
    const key = filterKey(this.prefix, marker.list, marker.generation);
    try {
      const length = await this.#bulk.strlen(key);
      if (length !== marker.filterBytes || (length === 0 && (await this.#bulk.exists(key)) === 0)) return null;
      const parts: Buffer[] = [];
      for (let offset = 0; offset < length; offset += FILTER_CHUNK_BYTES) {
        parts.push(await this.#bulk.getrangeBuffer(key, offset, Math.min(offset + FILTER_CHUNK_BYTES, length) - 1));
      }
      const filter = Buffer.concat(parts, length);
      return filter.length === marker.filterBytes ? filter : null;
    } catch (err) {
      throw redisError(`reading the filter of ${marker.list}/${marker.generation}`, err);
    }
  }

  /**
   * Deletes a generation: marker FIRST, so readers still holding it get 'unconfirmed' rather than 'absent'
   * while the buckets go; then buckets (SCAN + UNLINK in batches) and the filter. Refuses the current one.
   * Returns the number of keys removed.
   */
  async deleteGeneration(list: string, generation: string): Promise<number> {
    assertListName(list);
    assertGenerationId(generation);
    try {
      if ((await this.#bulk.get(pointerKey(this.prefix, list))) === generation) {
        throw new CallgateError(ErrorCode.GENERATION_MISMATCH, `refusing to delete ${list}/${generation}: it is the current generation`);
      }
      let removed = await this.#bulk.unlink(markerKey(this.prefix, list, generation));
      const pattern = bucketPattern(this.prefix, list, generation);
      let cursor = '0';
      do {
        const [next, found] = await this.#bulk.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (let i = 0; i < found.length; i += UNLINK_BATCH) {
          removed += await this.#bulk.unlink(...found.slice(i, i + UNLINK_BATCH));
        }
      } while (cursor !== '0');
      removed += await this.#bulk.unlink(filterKey(this.prefix, list, generation));
      return removed;
    } catch (err) {
      if (err instanceof CallgateError) throw err;
      throw redisError(`deleting ${list}/${generation}`, err);
    }
  }

  /**
   * Members must never be evicted: an evicted bucket with its marker kept would read 'absent', a wrong allow.
   * 'noeviction' and 'volatile-*' are safe: volatile policies evict only keys with a TTL and callgate sets none.
   * 'allkeys-*' (or an unknown policy) throws CALLGATE_ERR_REDIS_EVICTION unless allowEviction is set.
   */
  async checkEvictionPolicy(): Promise<void> {
    const policy = await this.#evictionPolicy();
    if (policy === 'noeviction' || policy.startsWith('volatile-')) return;
    if (this.#allowEviction) return;
    throw new CallgateError(
      ErrorCode.REDIS_EVICTION,
      `Redis maxmemory-policy is ${JSON.stringify(policy)}: Redis may evict list members and callgate would then allow listed numbers. ` +
        `Set maxmemory-policy to noeviction (or a volatile-* policy), or accept the risk with the allowEviction option.`,
    );
  }

  async #evictionPolicy(): Promise<string> {
    try {
      const reply: unknown = await this.#bulk.config('GET', 'maxmemory-policy');
      const flat: unknown[] = Array.isArray(reply) ? reply : reply instanceof Map ? [...reply].flat() : Object.entries(reply ?? {}).flat();
      const at = flat.indexOf('maxmemory-policy');
      const value = at >= 0 ? flat[at + 1] : undefined;
      if (typeof value === 'string') return value;
    } catch {
      // CONFIG is often disabled on managed Redis; INFO still tells.
    }
    try {
      const info = await this.#bulk.info('memory');
      const match = /^maxmemory_policy:(\S+)/m.exec(info);
      if (match?.[1]) return match[1];
    } catch (err) {
      throw redisError('reading maxmemory-policy', err);
    }
    throw new CallgateError(ErrorCode.REDIS_EVICTION, 'cannot read Redis maxmemory-policy (neither CONFIG GET nor INFO memory tell it)');
  }

  /** Closes both connections; pending commands are abandoned (confirms read 'unconfirmed'). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#fast, this.#bulk].map((c) => quit(c)));
    this.#setUp(false);
  }

  #setUp(up: boolean): void {
    if (up === this.#up) return;
    this.#up = up;
    this.#onStateChange?.(up ? 'up' : 'down');
  }
}

function parseConfirmReply(reply: unknown, n: number): Confirmation[] {
  const out = new Array<Confirmation>(n).fill('unconfirmed');
  if (!Array.isArray(reply) || reply.length !== n) return out;
  for (let i = 0; i < n; i++) {
    const v: unknown = reply[i];
    out[i] = v === 1 ? 'member' : v === 0 ? 'absent' : 'unconfirmed';
  }
  return out;
}

async function quit(client: Client): Promise<void> {
  if (client.status === 'ready') {
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
    await Promise.race([client.quit().then(() => undefined, () => undefined), timeout]);
  }
  client.disconnect();
}

function whenReady(client: Client, timeoutMs: number, url: string): Promise<void> {
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

function redisError(doing: string, err: unknown): CallgateError {
  if (err instanceof CallgateError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CallgateError(ErrorCode.REDIS, `Redis failed ${doing}: ${message}`, { cause: err });
}

function positive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new CallgateError(ErrorCode.CONFIG, `${name} must be a positive number, got ${String(value)}`);
  }
}

/** Hides the password of a Redis URL in messages. */
function maskUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
