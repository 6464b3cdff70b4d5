/**
 * Intraday changes of a list, between two file generations: additions (a ZSET per list, read by confirm.lua and
 * decide.lua), allow-list revocations (a ZSET per list), and one stream of every change that sidecars follow
 * (redis/change-follower.ts). The ZSET and the stream change in one script (lua/intraday.lua).
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { NumberKey } from '../numbers/number-key.js';
import type { ChangeOp } from './codecs.js';
import type { Client, Connection } from './connection.js';
import { redisError } from './errors.js';
import { addedKey, assertIntradayKeys, assertListName, assertWho, changesKey, revokedKey } from './keys.js';

export interface IntradayMeta {
  /** Who made the change (an operator, a CRM), recorded on the stream. */
  readonly who: string;
  /** An allow-list: a removal is a revocation that overrides the file, an addition lifts one. @default false */
  readonly revocable?: boolean | undefined;
}

export interface IntradayEntry {
  readonly key: NumberKey;
  /** When it was added, ms, Redis clock. */
  readonly at: number;
}

/** Keys per intraday script call: one stream entry each, and Lua's argument limits stay far away. */
export const INTRADAY_CHUNK = 1000;

export class Intraday {
  readonly #bulk: Client;
  readonly #prefix: string;
  readonly #changesMaxLen: number;

  /** changesMaxLen: approximate length (MAXLEN ~) the changes stream is trimmed to. */
  constructor(connection: Connection, prefix: string, changesMaxLen: number) {
    this.#bulk = connection.bulk;
    this.#prefix = prefix;
    this.#changesMaxLen = changesMaxLen;
  }

  /**
   * Records intraday additions (score: Redis time now) and the change on the stream, atomically. Returns the last
   * stream id. `revocable` (allow-lists): the addition also lifts an earlier revocation of the number.
   */
  addIntraday(list: string, keys: readonly NumberKey[], meta: IntradayMeta): Promise<string> {
    return this.#intraday('add', list, keys, meta);
  }

  /**
   * Removes intraday additions and records the change, atomically. Returns the last stream id. On a deny-list it
   * never touches the file generation (an opt-out in the file stays). On an allow-list (`revocable`) it also
   * records a revocation, which overrides the file's entry at once on every sidecar (decide.lua reads it).
   */
  removeIntraday(list: string, keys: readonly NumberKey[], meta: IntradayMeta): Promise<string> {
    return this.#intraday('remove', list, keys, meta);
  }

  /** Revocations recorded on an allow-list: number key → when (ms, Redis clock). */
  revocations(list: string): Promise<Map<NumberKey, number>> {
    assertListName(list);
    return this.#scanNumberTimes(revokedKey(this.#prefix, list), `reading revocations of ${list}`);
  }

  /**
   * Every intraday addition of a list, to seed a sidecar's overlay; call lastChangeId() BEFORE it and follow
   * from that id, so that changes made during the read are replayed. ZSCAN: keys present throughout are
   * returned; one changed meanwhile is settled by the replay.
   */
  async readIntraday(list: string): Promise<IntradayEntry[]> {
    assertListName(list);
    const found = await this.#scanNumberTimes(addedKey(this.#prefix, list), `reading intraday additions of ${list}`);
    return [...found].map(([key, at]) => ({ key, at })).sort((a, b) => a.at - b.at || a.key - b.key);
  }

  /** Drops intraday additions made before beforeMs (Redis clock); returns how many. */
  async clearIntradayBefore(list: string, beforeMs: number): Promise<number> {
    assertListName(list);
    if (!Number.isFinite(beforeMs)) throw new CallgateError(ErrorCode.CONFIG, `beforeMs must be a finite number, got ${String(beforeMs)}`);
    try {
      return await this.#bulk.zremrangebyscore(addedKey(this.#prefix, list), '-inf', `(${beforeMs}`);
    } catch (err) {
      throw redisError(`clearing intraday additions of ${list}`, err);
    }
  }

  /** A sorted set of number → time (ms), read whole with ZSCAN; members that are not numbers are skipped. */
  async #scanNumberTimes(key: string, doing: string): Promise<Map<NumberKey, number>> {
    const found = new Map<NumberKey, number>();
    try {
      let cursor = '0';
      do {
        const [next, flat] = await this.#bulk.zscan(key, cursor, 'COUNT', 1000);
        cursor = next;
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const k = Number(flat[i]);
          if (Number.isSafeInteger(k) && k > 0) found.set(k, Number(flat[i + 1]));
        }
      } while (cursor !== '0');
    } catch (err) {
      throw redisError(doing, err);
    }
    return found;
  }

  async #intraday(op: ChangeOp, list: string, keys: readonly NumberKey[], meta: IntradayMeta): Promise<string> {
    const { who } = meta;
    assertListName(list);
    assertWho(who);
    assertIntradayKeys(keys);
    if (keys.length === 0) throw new CallgateError(ErrorCode.BAD_REQUEST, 'no keys');
    let id = '';
    try {
      // One stream entry per chunk, each atomic with its ZSET change.
      for (let i = 0; i < keys.length; i += INTRADAY_CHUNK) {
        const digits = keys.slice(i, i + INTRADAY_CHUNK).map(String);
        const reply: unknown = await this.#bulk.cgIntraday(
          addedKey(this.#prefix, list),
          changesKey(this.#prefix),
          revokedKey(this.#prefix, list),
          op,
          list,
          who,
          this.#changesMaxLen,
          digits.join(','),
          meta.revocable === true ? '1' : '0',
          ...digits,
        );
        id = String(reply);
      }
    } catch (err) {
      throw redisError(`recording intraday ${op} on ${list}`, err);
    }
    return id;
  }
}
