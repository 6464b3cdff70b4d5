/**
 * The fleet epoch (`{p}epoch`): a random id written (SET NX) with the first generation under a prefix. A sidecar
 * remembers it on disk; finding it gone or changed means Redis lost its data (restart without persistence,
 * FLUSHALL), and the fleet's refusals and attempts must be re-published from the sidecars' copies.
 * decide() (redis/confirm.ts expectEpoch) checks it inside its script.
 */
import { randomBytes } from 'node:crypto';
import type { Client, Connection } from './connection.js';
import { redisError } from './errors.js';
import { epochKey } from './keys.js';

export class FleetEpoch {
  readonly #bulk: Client;
  readonly #prefix: string;

  constructor(connection: Connection, prefix: string) {
    this.#bulk = connection.bulk;
    this.#prefix = prefix;
  }

  /** The fleet epoch, or null when Redis holds none. Throws CALLGATE_ERR_REDIS. */
  async readEpoch(): Promise<string | null> {
    try {
      return await this.#bulk.get(epochKey(this.#prefix));
    } catch (err) {
      throw redisError('reading the fleet epoch', err);
    }
  }

  /** The fleet epoch, written first (a new random one) when Redis holds none. Throws CALLGATE_ERR_REDIS. */
  async ensureEpoch(): Promise<string> {
    const key = epochKey(this.#prefix);
    try {
      await this.#bulk.set(key, randomBytes(8).toString('hex'), 'NX');
      const epoch = await this.#bulk.get(key);
      if (epoch !== null) return epoch;
    } catch (err) {
      throw redisError('writing the fleet epoch', err);
    }
    return this.ensureEpoch();
  }
}
