/**
 * Following the changes stream (`{p}changes`): every intraday add/remove of every list, in order, so that each
 * sidecar's overlay matches Redis's. Each follow loop holds a dedicated connection (XREAD BLOCK), resumes from the
 * last id delivered after any error or reconnection, and reports a gap when entries may have been trimmed unread.
 */
import { CallgateError, ErrorCode, isCallgateError } from '../core/errors.js';
import { compareStreamIds, decodeChange, isStreamId } from './codecs.js';
import type { Change } from './codecs.js';
import type { Client, Connection } from './connection.js';
import { asError, positive, positiveInteger, redisError } from './errors.js';
import { changesKey } from './keys.js';
import type { RiskWatch } from './risk.js';

export interface FollowOptions {
  /** XREAD BLOCK timeout; the loop re-issues the read after it. @default 5000 */
  readonly blockMs?: number | undefined;
  /** Cap of the retry backoff after an error. @default the store's reconnectMaxDelayMs (2000) */
  readonly maxBackoffMs?: number | undefined;
  /** Errors (connection, malformed entries, a throwing onChange), for logs; the loop goes on. @default undefined */
  readonly onError?: ((err: Error) => void) | undefined;
  /**
   * Changes after lastId may have been trimmed from the stream before they were read (a follower away for a
   * million changes): the overlay must be seeded again (lastChangeId, readIntraday). Checked at start and
   * after every error; following goes on from the first entry still held.
   * @default reports a CallgateError CALLGATE_ERR_REDIS through onError
   */
  readonly onGap?: ((lastId: string, firstHeldId: string) => void) | undefined;
  /**
   * An entry that cannot be decoded (written by a newer build, or damaged): its change is unknown, so the
   * overlay must be seeded again; following goes on after it. @default reported through onError
   */
  readonly onMalformed?: ((id: string, err: Error) => void) | undefined;
}

const FOLLOW_COUNT = 1000;
/** `callgate why` reads at most this many of the newest changes to say who made one (an admin question, bounded). */
export const WHY_SCAN_ENTRIES = 20_000;
const WHY_SCAN_PAGE = 1000;

export class ChangeFollower {
  readonly #connection: Connection;
  readonly #prefix: string;
  readonly #risk: RiskWatch;
  /** Stop functions of running followChanges() loops. */
  readonly #followers = new Set<() => Promise<void>>();

  /** risk: told of entries of a newer format (every check that needs Redis then blocks). */
  constructor(connection: Connection, prefix: string, risk: RiskWatch) {
    this.#connection = connection;
    this.#prefix = prefix;
    this.#risk = risk;
  }

  /** Id of the newest change on the stream, '0-0' when there is none. */
  async lastChangeId(): Promise<string> {
    try {
      const entries = await this.#connection.bulk.xrevrange(changesKey(this.#prefix), '+', '-', 'COUNT', 1);
      return entries[0]?.[0] ?? '0-0';
    } catch (err) {
      throw redisError('reading the last change id', err);
    }
  }

  /**
   * The changes naming `key`, newest first, among the newest `maxEntries` entries of the stream (`callgate why`:
   * who made a day's change, and when); older or trimmed ones are not found. Entries that cannot be decoded are
   * passed over: this answers a question, it applies nothing.
   */
  async changesOf(key: number, maxEntries = WHY_SCAN_ENTRIES): Promise<Change[]> {
    const streamKey = changesKey(this.#prefix);
    const digits = String(key);
    const found: Change[] = [];
    let end = '+';
    let read = 0;
    try {
      while (read < maxEntries) {
        const page = await this.#connection.bulk.xrevrange(streamKey, end, '-', 'COUNT', Math.min(WHY_SCAN_PAGE, maxEntries - read));
        for (const [id, flat] of page) {
          // A cheap test before decoding: most entries name other numbers.
          if (!flat.some((f) => f === digits || f.startsWith(`${digits},`) || f.endsWith(`,${digits}`) || f.includes(`,${digits},`))) continue;
          try {
            const change = decodeChange(id, flat);
            if (change.keys.includes(key)) found.push(change);
          } catch {
            // An entry of a newer format or damaged: the follower reports it; here it is only not found.
          }
        }
        read += page.length;
        const last = page[page.length - 1];
        if (last === undefined || page.length < WHY_SCAN_PAGE) break;
        end = `(${last[0]}`;
      }
    } catch (err) {
      throw redisError('reading the changes stream', err);
    }
    return found;
  }

  /**
   * Calls onChange for every change after fromId, in stream order, forever: a loop of XREAD BLOCK on a
   * dedicated connection that remembers the last id delivered and resumes from it after any error or
   * reconnection (backoff up to maxBackoffMs), so nothing is skipped. A throwing onChange or a malformed entry
   * is reported through onError and passed over. The returned function stops the loop and closes the connection.
   */
  followChanges(fromId: string, onChange: (change: Change) => void, options: FollowOptions = {}): () => Promise<void> {
    if (!isStreamId(fromId)) throw new CallgateError(ErrorCode.CONFIG, `fromId must be a stream id like 1700000000000-0, got ${JSON.stringify(fromId)}`);
    if (this.#connection.closed) throw new CallgateError(ErrorCode.REDIS, 'store closed');
    const blockMs = options.blockMs ?? 5000;
    positiveInteger('blockMs', blockMs);
    const maxBackoffMs = options.maxBackoffMs ?? this.#connection.reconnectMaxDelayMs;
    positive('maxBackoffMs', maxBackoffMs);
    const report = (err: unknown): void => options.onError?.(asError(err));
    const onGap =
      options.onGap ??
      ((lastId: string, firstHeldId: string) =>
        report(new CallgateError(ErrorCode.REDIS, `changes after ${lastId} may have been trimmed (first held: ${firstHeldId}) before being read: seed the overlay again`)));
    const key = changesKey(this.#prefix);
    let lastId = fromId;
    let stopped = false;
    let client: Client | null = null;
    let wake: (() => void) | null = null;
    const pause = (ms: number): Promise<void> =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wake = null;
          resolve();
        }, ms);
        wake = () => {
          clearTimeout(timer);
          wake = null;
          resolve();
        };
      });
    const loop = async (): Promise<void> => {
      let backoff = 0;
      let checkGap = true;
      while (!stopped) {
        try {
          // The socket timeout exceeds the block so that only a hung server trips it.
          client ??= await this.#connection.dial('follow', { socketTimeout: blockMs + this.#connection.hungSocketMs });
          if (stopped) break;
          if (checkGap) {
            const firstHeld = await trimmedAfter(client, key, lastId);
            if (firstHeld !== null) onGap(lastId, firstHeld);
            checkGap = false;
          }
          const reply: unknown = await client.xread('COUNT', FOLLOW_COUNT, 'BLOCK', blockMs, 'STREAMS', key, lastId);
          backoff = 0;
          for (const [id, fields] of streamEntries(reply)) {
            if (stopped) break;
            let change: Change | null = null;
            try {
              change = decodeChange(id, fields);
            } catch (err) {
              if (isCallgateError(err, ErrorCode.FORMAT)) {
                // An entry of a newer format is not skipped silently: every check that needs Redis blocks.
                this.#risk.noteFormat(err);
                report(err);
              } else if (options.onMalformed === undefined) report(err);
              else options.onMalformed(id, err instanceof Error ? err : new Error(String(err)));
            }
            try {
              if (change !== null) onChange(change);
            } catch (err) {
              this.#risk.noteFormat(err);
              report(err);
            }
            lastId = id;
          }
        } catch (err) {
          if (stopped) break;
          report(err);
          checkGap = true;
          backoff = Math.min(backoff === 0 ? 50 : backoff * 2, maxBackoffMs);
          await pause(backoff);
        }
      }
    };
    const running = loop();
    const stop = async (): Promise<void> => {
      stopped = true;
      this.#followers.delete(stop);
      wake?.();
      // Disconnecting rejects a pending XREAD BLOCK at once.
      (client as Client | null)?.disconnect();
      await running;
      (client as Client | null)?.disconnect();
    };
    this.#followers.add(stop);
    return stop;
  }

  /** Stops every loop and closes their connections. */
  async close(): Promise<void> {
    await Promise.all([...this.#followers].map((stop) => stop()));
  }
}

/** XREAD's reply for one stream as [id, flat fields] pairs; anything else reads as no entries. */
function streamEntries(reply: unknown): Array<[string, string[]]> {
  if (!Array.isArray(reply)) return [];
  const stream: unknown = reply[0];
  const entries: unknown = Array.isArray(stream) ? stream[1] : undefined;
  if (!Array.isArray(entries)) return [];
  const out: Array<[string, string[]]> = [];
  for (const entry of entries as unknown[]) {
    if (!Array.isArray(entry)) continue;
    const [id, fields] = entry as unknown[];
    if (typeof id === 'string') out.push([id, Array.isArray(fields) ? (fields as unknown[]).map(String) : []]);
  }
  return out;
}

/**
 * Whether entries after lastId may have been removed unread: returns the first entry id still held, else null.
 * XDEL raises max-deleted-entry-id, but trimming does not (Redis 7.0), so trimming is seen as entries-added
 * exceeding length while lastId is older than the first entry held. That can report a gap that is not one
 * (when trimming stopped exactly at lastId): a needless reseed, never a missed change. Redis < 7 lacks these
 * fields: no detection.
 */
async function trimmedAfter(client: Client, key: string, lastId: string): Promise<string | null> {
  let reply: unknown;
  try {
    reply = await client.xinfo('STREAM', key);
  } catch (err) {
    if (err instanceof Error && /no such key/i.test(err.message)) return null;
    throw err;
  }
  if (!Array.isArray(reply)) return null;
  const field = (name: string): unknown => {
    const at = reply.indexOf(name);
    return at >= 0 ? reply[at + 1] : undefined;
  };
  const maxDeleted = field('max-deleted-entry-id');
  const firstHeld = field('recorded-first-entry-id');
  const added = Number(field('entries-added'));
  const length = Number(field('length'));
  if (typeof firstHeld !== 'string' || !isStreamId(firstHeld)) return null;
  if (typeof maxDeleted === 'string' && isStreamId(maxDeleted) && compareStreamIds(lastId, maxDeleted) < 0) return firstHeld;
  if (added > length && firstHeld !== '0-0' && compareStreamIds(lastId, firstHeld) < 0) return firstHeld;
  return null;
}
