/**
 * Fleet check counts in Redis: per-minute (and 10-second) hashes written and read by supervision/fleet-stats.ts.
 * Always on the bulk connection: supervision must never delay a confirmation. Key names: redis/keys.ts statsKey.
 */
import type { Client, Connection } from './connection.js';
import { redisError } from './errors.js';

export interface StatsEntry {
  readonly key: string;
  readonly incr: Readonly<Record<string, number>>;
  readonly set?: Readonly<Record<string, string>>;
}

export class StatsStore {
  /** The key prefix, for statsKey / statsSlotKey. */
  readonly prefix: string;
  readonly #bulk: Client;

  constructor(connection: Connection, prefix: string) {
    this.#bulk = connection.bulk;
    this.prefix = prefix;
  }

  /**
   * Adds check counts to per-minute hashes (HINCRBY; `set` fields are overwritten) with an expiry,
   * in one pipeline on the bulk connection.
   */
  async addStats(entries: readonly StatsEntry[], ttlMs: number): Promise<void> {
    const pipeline = this.#bulk.pipeline();
    for (const e of entries) {
      for (const [field, n] of Object.entries(e.incr)) if (n !== 0) pipeline.hincrby(e.key, field, n);
      if (e.set !== undefined && Object.keys(e.set).length > 0) pipeline.hset(e.key, e.set);
      pipeline.pexpire(e.key, ttlMs);
    }
    try {
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err !== null);
      if (failed) throw failed[0];
    } catch (err) {
      throw redisError('adding stats', err);
    }
  }

  /** Reads per-minute stats hashes (missing ones read as empty). */
  async readStats(keys: readonly string[]): Promise<Record<string, string>[]> {
    if (keys.length === 0) return [];
    const pipeline = this.#bulk.pipeline();
    for (const k of keys) pipeline.hgetall(k);
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      throw redisError('reading stats', err);
    }
    return (results ?? []).map(([err, v]) => (err === null && v !== null && typeof v === 'object' ? (v as Record<string, string>) : {}));
  }
}
