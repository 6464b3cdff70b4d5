/**
 * The fleet of sidecars sharing one Redis: heartbeats (which generations each sidecar reads, so that garbage
 * collection spares them), the live-sidecar list, and switch notices on pub/sub (a hint that saves waiting for
 * the next pointer poll). Heartbeat times are Redis's clock (TIME inside lua/heartbeat.lua).
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import { decodeEvent, decodeInUse, encodeInUse } from './codecs.js';
import type { InUse, SwitchEvent } from './codecs.js';
import { quit } from './connection.js';
import type { Client, Connection } from './connection.js';
import { asError, positiveInteger, redisError } from './errors.js';
import { assertInstanceId, eventsChannel, sidecarKey, sidecarsKey } from './keys.js';

export interface SidecarRecord {
  readonly id: string;
  /** Last heartbeat, ms, Redis clock. */
  readonly lastSeen: number;
  readonly inUse: InUse[];
}

/** Sidecar records read (MGET) and forgotten per command: bounded command size. */
const BATCH = 500;

export class Fleet {
  readonly #connection: Connection;
  readonly #prefix: string;
  readonly #onError: ((err: Error) => void) | undefined;
  /** The subscriber connection, opened by the first subscribe() and closed after the last unsubscribe. */
  #subscriber: Promise<Client> | null = null;
  readonly #handlers = new Set<{ readonly onEvent: (event: SwitchEvent) => void }>();

  /** onError: malformed notices and throwing handlers, for logs. */
  constructor(connection: Connection, prefix: string, onError: ((err: Error) => void) | undefined) {
    this.#connection = connection;
    this.#prefix = prefix;
    this.#onError = onError;
  }

  /**
   * Records which generations sidecar instanceId reads, for ttlMs (heartbeat again well before it ends;
   * a sidecar whose record expired is dead to collectGarbage). Runs on the confirm connection: tiny, and never
   * stuck behind bulk writes.
   */
  async heartbeat(instanceId: string, inUse: readonly InUse[], ttlMs: number): Promise<void> {
    assertInstanceId(instanceId);
    positiveInteger('ttlMs', ttlMs);
    const record = encodeInUse(inUse);
    try {
      await this.#connection.fast.cgHeartbeat(sidecarKey(this.#prefix, instanceId), sidecarsKey(this.#prefix), instanceId, record, ttlMs);
    } catch (err) {
      throw redisError(`heartbeating ${instanceId}`, err);
    }
  }

  /** Sidecars whose heartbeat has not expired, with what they read; forgets expired ones. */
  async liveSidecars(): Promise<SidecarRecord[]> {
    const bulk = this.#connection.bulk;
    try {
      const flat = await bulk.zrange(sidecarsKey(this.#prefix), '0', '-1', 'WITHSCORES');
      const live: SidecarRecord[] = [];
      const dead: string[] = [];
      for (let i = 0; i < flat.length; i += 2 * BATCH) {
        const chunk = flat.slice(i, i + 2 * BATCH);
        const ids = chunk.filter((_, j) => j % 2 === 0);
        const records = await bulk.mget(...ids.map((id) => sidecarKey(this.#prefix, id)));
        ids.forEach((id, j) => {
          const record = records[j];
          if (record === null || record === undefined) dead.push(id);
          else live.push({ id, lastSeen: Number(chunk[2 * j + 1]), inUse: decodeInUse(record) });
        });
      }
      for (let i = 0; i < dead.length; i += BATCH) {
        const ids = dead.slice(i, i + BATCH);
        await bulk.cgPrune(1 + ids.length, sidecarsKey(this.#prefix), ...ids.map((id) => sidecarKey(this.#prefix, id)), ...ids);
      }
      return live;
    } catch (err) {
      throw redisError('reading live sidecars', err);
    }
  }

  /**
   * Calls onEvent for every switch notice on `{p}events` (any store of the fleet), through a dedicated
   * subscriber connection that resubscribes after a reconnection. Notices are a hint: one published while
   * disconnected is lost, so a sidecar still polls readCurrent. Resolves once subscribed; returns the
   * unsubscribe function.
   */
  async subscribe(onEvent: (event: SwitchEvent) => void): Promise<() => Promise<void>> {
    if (this.#connection.closed) throw new CallgateError(ErrorCode.REDIS, 'store closed');
    const entry = { onEvent };
    this.#handlers.add(entry);
    const channel = eventsChannel(this.#prefix);
    if (this.#subscriber === null) {
      const opening = (async () => {
        const client = await this.#connection.dial('events');
        client.on('message', (from: string, message: string) => {
          if (from !== channel) return;
          const event = decodeEvent(message);
          if (event === null) {
            this.#onError?.(new CallgateError(ErrorCode.REDIS, `ignored malformed notice on ${channel}: ${message.slice(0, 200)}`));
            return;
          }
          for (const h of [...this.#handlers]) {
            try {
              h.onEvent(event);
            } catch (err) {
              this.#onError?.(asError(err));
            }
          }
        });
        try {
          await client.subscribe(channel);
        } catch (err) {
          client.disconnect();
          throw err;
        }
        return client;
      })();
      this.#subscriber = opening;
      opening.catch(() => {
        if (this.#subscriber === opening) this.#subscriber = null;
      });
    }
    try {
      await this.#subscriber;
    } catch (err) {
      this.#handlers.delete(entry);
      throw redisError(`subscribing to ${channel}`, err);
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      this.#handlers.delete(entry);
      if (this.#handlers.size > 0 || this.#subscriber === null) return;
      const subscriber = this.#subscriber;
      this.#subscriber = null;
      await quit(await subscriber.catch(() => null));
    };
  }

  /** Forgets every handler (first step of closing; notices arriving meanwhile go nowhere). */
  clearHandlers(): void {
    this.#handlers.clear();
  }

  /** Closes the subscriber connection, if any. */
  async close(): Promise<void> {
    this.#handlers.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    if (subscriber !== null) await subscriber.then(quit, () => undefined);
  }
}
