/**
 * A list's generations in Redis: writing one (registered first, members, terms, filter, marker LAST), switching
 * the list's pointer to it, reading the current one, and deleting old ones (marker FIRST) by hand or by garbage
 * collection. The order of writes and deletions is what keeps readers fail-closed: a generation without a
 * marker is never read, and a reader holding a deleted one gets 'unconfirmed', never 'absent'.
 */
import { CallgateError, ErrorCode } from '../core/errors.js';
import type { NumberKey } from '../numbers/number-key.js';
import type { TermsTable } from '../lists/terms-table.js';
import type { AllowRole, ListKind } from '../config/list-spec.js';
import { yieldToEventLoop } from '../core/time.js';
import { newGenerationId } from '../lists/generation.js';
import { BUCKET_LAYOUT, EMPTY_BUCKET_MEMBER, bucketCount, bucketIndexOf, highOf, memberOf, planBuckets } from './bucketing.js';
import type { PartBuckets } from './bucketing.js';
import { EMPTY_FINGERPRINT, FORMAT_VERSION, decodeMarker, encodeMarker, encodeSwitchEvent } from './codecs.js';
import type { GenerationMarker } from './codecs.js';
import type { Client, Connection } from './connection.js';
import type { FleetEpoch } from './epoch.js';
import { redisError } from './errors.js';
import type { Fleet } from './fleet.js';
import {
  addedKey,
  assertGenerationId,
  assertListName,
  bucketKey,
  bucketPattern,
  eventsChannel,
  filterKey,
  gensKey,
  listsKey,
  markerKey,
  pointerKey,
  termsKey,
} from './keys.js';
import type { RiskWatch } from './risk.js';
import { FULL_SPEED, RedisLoadPacer, type ChunkPacer, type LoadPacerFigures } from './load-pacer.js';
import type { LoadPacing } from '../refresh/pacing.js';

export interface WriteGenerationInput {
  readonly list: string;
  readonly kind: ListKind;
  /** Allow-lists: consent or contract, recorded so a sidecar never takes over a list of another role. */
  readonly role?: AllowRole | null | undefined;
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
  /** Consent lists: number key → stored consent terms (rules/consent-terms.ts), written beside the members. */
  readonly terms?: TermsTable | ReadonlyMap<NumberKey, string> | null | undefined;
  /** Pace the writes by the latency they cause (redis/load-pacer.ts). @default undefined (full speed) */
  readonly pacing?: LoadPacing | undefined;
  /** Told how the load was paced, once the members, terms and filter are written. */
  readonly onPaced?: ((figures: LoadPacerFigures) => void) | undefined;
}

export interface SwitchOptions {
  /**
   * Also drop the list's intraday additions made before this time (ms, Redis clock), in the same script as
   * the switch: a new file generation replaces them, additions made after it (during the load) stay.
   * @default undefined (keep every intraday addition)
   */
  readonly clearIntradayBefore?: number | undefined;
}

export interface GarbageOptions {
  /** Generations registered less than this long ago are kept: loads in progress and fresh ones. */
  readonly graceMs: number;
  /** Current time in ms on Redis's clock. @default Redis TIME */
  readonly now?: number | undefined;
}

export interface EmptyGenerationInput {
  readonly normaliserVersion: string;
  readonly hashId: string;
  /** The binary form of an empty Bloom filter built with the fleet's hashing. */
  readonly filter: Buffer;
}

// Small pipelines: Redis runs one command at a time, and a confirmation queued behind a long
// pipeline of SADDs waits for all of it (measured: 256 per flush tripled the confirm p99 during a
// 12M load); 32 keeps each burst well under a millisecond of Redis time.
const COMMANDS_PER_FLUSH = 32;
/**
 * Keys bucketed between two yields to the event loop during a load: a check waits for the slice under way. 65,536
 * took 4.4 ms a slice (median, 19.5 ms max) on the loaded 2-core machine of 2026-12-03, which a refreshing
 * sidecar's checks waited out (issue 17 item 3); 8,192 keeps a slice around half a millisecond.
 */
const YIELD_EVERY = 8192;
const FILTER_CHUNK_BYTES = 1 << 20;
/** The smallest filter chunk of a paced load (at the smallest pace). */
const MIN_FILTER_CHUNK_BYTES = 64 << 10;
const UNLINK_BATCH = 500;
/** Consent terms per HSET while writing a generation: bounded command size (~50 kB). */
const TERMS_PER_HSET = 500;
/**
 * HSETs per pipeline flush: 2,000 terms per round trip (one command at a time, 200k terms took 200 round
 * trips awaited one by one), yet each burst stays around a millisecond of Redis time for confirmations queued behind it.
 */
const HSETS_PER_FLUSH = 4;
// A score above any time: deleteGeneration deletes whatever the registration time.
const NO_CUTOFF = String(Number.MAX_VALUE);

export class Generations {
  readonly #connection: Connection;
  readonly #bulk: Client;
  readonly #prefix: string;
  readonly #risk: RiskWatch;
  readonly #epoch: FleetEpoch;
  readonly #fleet: Fleet;

  /**
   * risk: told of markers of a newer format; epoch: written with the first generation; fleet: the generations
   * live sidecars read, which garbage collection spares.
   */
  constructor(connection: Connection, prefix: string, risk: RiskWatch, epoch: FleetEpoch, fleet: Fleet) {
    this.#connection = connection;
    this.#bulk = connection.bulk;
    this.#prefix = prefix;
    this.#risk = risk;
    this.#epoch = epoch;
    this.#fleet = fleet;
  }

  /**
   * Writes a complete generation: registers it in the list's gens ZSET FIRST (so an interrupted load leaves a
   * trace for collectGarbage), then members, the filter, and the marker LAST (a generation without a marker is
   * incomplete and never read). The marker is written only if garbage collection has not claimed the
   * generation meanwhile (CALLGATE_ERR_GENERATION_MISMATCH then, and the written keys are removed).
   * Does not switch the pointer.
   */
  async writeGeneration(input: WriteGenerationInput): Promise<GenerationMarker> {
    assertListName(input.list);
    const generation = input.generation ?? newGenerationId();
    assertGenerationId(generation);
    const { keys, list } = input;
    const buckets = planBuckets(keys);
    const marker: GenerationMarker = {
      list,
      kind: input.kind,
      ...(input.kind === 'allow' && input.role != null ? { role: input.role } : {}),
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
      format: FORMAT_VERSION,
    };
    // Validates the marker before any write, with the same rules readers apply.
    decodeMarker(encodeMarker(marker));
    let written: unknown;
    // The fleet's epoch comes with its first generation (a sidecar that saw it learns a wipe from its loss).
    await this.#epoch.ensureEpoch();
    try {
      await this.#bulk.cgRegister(gensKey(this.#prefix, list), generation);
      // Paced: chunks sized (and spaced) by the latency they cause to confirmations; the writes are the same.
      // A baseline that cannot be measured (the fast connection down) leaves the load unpaced, not failed.
      const paced = input.pacing?.enabled === true ? await RedisLoadPacer.start({ fast: this.#connection.fast, bulk: this.#bulk }, input.pacing, COMMANDS_PER_FLUSH).catch(() => null) : null;
      const pacer: ChunkPacer = paced ?? FULL_SPEED;
      // Members and terms side by side: one writer encodes while Redis runs the other's batch (both yield between
      // flushes). Both are awaited before anything else is written, whichever fails first.
      const writes = [this.#writeMembers(list, generation, keys, buckets, pacer)];
      if (input.terms) writes.push(this.#writeTerms(termsKey(this.#prefix, list, generation), input.terms, pacer));
      const failed = (await Promise.allSettled(writes)).find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      await this.#writeFilter(filterKey(this.#prefix, list, generation), input.filter, pacer);
      if (paced !== null) input.onPaced?.(paced.figures());
      written = await this.#bulk.cgMarker(
        gensKey(this.#prefix, list),
        markerKey(this.#prefix, list, generation),
        generation,
        ...Object.entries(encodeMarker(marker)).flat(),
      );
    } catch (err) {
      throw redisError(`writing generation ${list}/${generation}`, err);
    }
    if (written !== 1) {
      await this.#deleteKeys(list, generation).catch(() => undefined);
      throw new CallgateError(
        ErrorCode.GENERATION_MISMATCH,
        `generation ${list}/${generation} was garbage-collected while being written (the load took longer than the collector's grace)`,
      );
    }
    return marker;
  }

  async #writeMembers(list: string, generation: string, keys: Float64Array, plan: PartBuckets, pacer: ChunkPacer): Promise<void> {
    let pipeline = this.#bulk.pipeline();
    let queued = 0;
    let limit = Math.min(COMMANDS_PER_FLUSH, await pacer.next());
    const flush = async (): Promise<void> => {
      if (queued === 0) return;
      const sent = pipeline.exec();
      pacer.running(sent, queued);
      const results = await sent;
      for (const [err] of results ?? []) if (err) throw err;
      pipeline = this.#bulk.pipeline();
      queued = 0;
      limit = Math.min(COMMANDS_PER_FLUSH, await pacer.next());
    };
    // Keys are sorted, so keys sharing a high part form one run; a counting sort of each run by bucket index
    // groups the members without a Map of arrays (12M keys) and keeps them ascending inside each bucket,
    // so every intset insert is an append. Every bucket of the part is written: an empty one gets the placeholder.
    let start = 0;
    while (start < keys.length) {
      const high = highOf(keys[start] as number);
      const buckets = plan.parts.get(high) ?? 0;
      const counts = new Uint32Array(buckets + 1);
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
      const runLength = end - start;
      if (buckets !== bucketCount(runLength)) throw new CallgateError(ErrorCode.REDIS, `keys must be sorted (part ${high} split at index ${start})`);
      const index = new Uint32Array(runLength);
      for (let i = 0; i < runLength; i++) {
        const b = bucketIndexOf(memberOf(keys[start + i] as number), buckets);
        index[i] = b;
        (counts[b + 1] as number)++;
        // A sidecar loading 12 million numbers keeps answering checks: yield every so often.
        if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
      }
      for (let b = 1; b <= buckets; b++) counts[b] = (counts[b] as number) + (counts[b - 1] as number);
      const sorted = new Uint32Array(runLength);
      const cursor = counts.slice(0, buckets);
      for (let i = 0; i < runLength; i++) {
        const b = index[i] as number;
        sorted[(cursor[b] as number)++] = memberOf(keys[start + i] as number);
        if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
      }
      for (let b = 0; b < buckets; b++) {
        const from = counts[b] as number;
        const to = counts[b + 1] as number;
        const members = from === to ? [EMPTY_BUCKET_MEMBER] : Array.from(sorted.subarray(from, to));
        pipeline.sadd(bucketKey(this.#prefix, list, generation, `${high}.${b}`), ...members);
        if (++queued >= limit) await flush();
      }
      start = end;
    }
    await flush();
  }

  /**
   * Pipelined HSETs, yielding to the event loop between flushes (checks are answered during a load). The values are
   * the stored forms as before (a TermsTable decodes each once): the hash is the same whatever held the terms.
   */
  async #writeTerms(key: string, terms: TermsTable | ReadonlyMap<NumberKey, string>, pacer: ChunkPacer): Promise<void> {
    let pipeline = this.#bulk.pipeline();
    let queued = 0;
    // The pace is in member commands (COMMANDS_PER_FLUSH at full speed): an HSET of terms counts for as many SADDs.
    const limitOf = (chunk: number): number => Math.max(1, Math.min(HSETS_PER_FLUSH, Math.floor((chunk * HSETS_PER_FLUSH) / COMMANDS_PER_FLUSH)));
    let limit = limitOf(await pacer.next());
    // Strings, not views of the table's bytes: a command of strings goes out as one string, one of
    // Buffers as a write of hundreds of small buffers (measured slower).
    let fields: string[] = [];
    // One batch stays in flight while the next is encoded, so Node and Redis work at the same time.
    let inFlight: Promise<void> = Promise.resolve();
    const send = async (last: boolean): Promise<void> => {
      if (fields.length > 0) {
        pipeline.hset(key, ...fields);
        queued++;
        fields = [];
      }
      if (queued > 0 && (last || queued >= limit)) {
        const sent = pipeline.exec().then((results) => {
          for (const [err] of results ?? []) if (err) throw err;
        });
        pacer.running(sent, queued);
        // Never an unhandled rejection: it is awaited below, at the next batch or the end.
        sent.catch(() => undefined);
        pipeline = this.#bulk.pipeline();
        queued = 0;
        await inFlight;
        inFlight = sent;
        if (!last) {
          await yieldToEventLoop();
          limit = limitOf(await pacer.next());
        }
      }
      if (last) await inFlight;
    };
    for (const [k, v] of terms) {
      fields.push(String(k), v);
      if (fields.length >= 2 * TERMS_PER_HSET) await send(false);
    }
    await send(true);
  }

  async #writeFilter(key: string, filter: Buffer, pacer: ChunkPacer): Promise<void> {
    // SET the first chunk (overwrites leftovers), APPEND the rest: no single command carries 25 MB. Paced, a chunk
    // shrinks with the pace (a 1 MB APPEND is one long command for Redis, which confirmations wait behind).
    const bytesOf = (chunk: number): number => Math.max(MIN_FILTER_CHUNK_BYTES, Math.min(FILTER_CHUNK_BYTES, Math.floor((chunk * FILTER_CHUNK_BYTES) / COMMANDS_PER_FLUSH)));
    let bytes = bytesOf(await pacer.next());
    const first = this.#bulk.set(key, filter.subarray(0, bytes));
    pacer.running(first, 1);
    await first;
    for (let offset = bytes; offset < filter.length; offset += bytes) {
      bytes = bytesOf(await pacer.next());
      const sent = this.#bulk.append(key, filter.subarray(offset, offset + bytes));
      pacer.running(sent, 1);
      await sent;
    }
    const length = await this.#bulk.strlen(key);
    if (length !== filter.length) {
      throw new CallgateError(ErrorCode.REDIS, `filter ${key} holds ${length} bytes after writing ${filter.length}`);
    }
  }

  /**
   * Points the list at a complete generation and publishes a switch notice on `{p}events`, in one script;
   * with clearIntradayBefore, also drops older intraday additions in that script. Returns the previous
   * generation id, if any.
   */
  async switchCurrent(list: string, generation: string, options: SwitchOptions = {}): Promise<string | null> {
    const clearBefore = options.clearIntradayBefore;
    if (clearBefore !== undefined && !Number.isFinite(clearBefore)) {
      throw new CallgateError(ErrorCode.CONFIG, `clearIntradayBefore must be a finite number of ms, got ${String(clearBefore)}`);
    }
    const reply = await this.#switch(list, generation, clearBefore, undefined);
    if (reply.status !== 'switched') {
      throw new CallgateError(ErrorCode.GENERATION_MISMATCH, `cannot switch ${list} to ${generation}: it has no marker (incomplete or deleted)`);
    }
    return reply.previous;
  }

  /** expected: switch only when the pointer is this (null: no pointer); undefined: unconditionally. */
  async #switch(
    list: string,
    generation: string,
    clearBefore: number | undefined,
    expected: string | null | undefined,
  ): Promise<{ status: 'switched' | 'no-marker' | 'moved'; previous: string | null }> {
    assertListName(list);
    assertGenerationId(generation);
    let reply: unknown;
    try {
      reply = await this.#bulk.cgSwitch(
        pointerKey(this.#prefix, list),
        listsKey(this.#prefix),
        markerKey(this.#prefix, list, generation),
        gensKey(this.#prefix, list),
        addedKey(this.#prefix, list),
        list,
        generation,
        clearBefore === undefined ? '' : String(clearBefore),
        eventsChannel(this.#prefix),
        encodeSwitchEvent(list, generation),
        expected === undefined ? '' : '1',
        expected ?? '',
      );
    } catch (err) {
      throw redisError(`switching ${list} to ${generation}`, err);
    }
    const code: unknown = Array.isArray(reply) ? reply[0] : undefined;
    const previous: unknown = Array.isArray(reply) ? reply[1] : undefined;
    return {
      status: code === 1 ? 'switched' : code === 2 ? 'moved' : 'no-marker',
      previous: typeof previous === 'string' ? previous : null,
    };
  }

  /**
   * Gives a list with no source file (only intraday changes, e.g. 'internal') a current generation so that
   * confirm has a marker to check: when the list has no readable current generation, writes one with zero
   * members (fingerprint = sha256 of nothing) and switches to it only if the pointer did not move meanwhile.
   * An existing current generation is returned as is, whatever its kind or count.
   */
  async ensureEmptyGeneration(list: string, kind: ListKind, input: EmptyGenerationInput): Promise<{ marker: GenerationMarker; created: boolean }> {
    assertListName(list);
    let ours: GenerationMarker | null = null;
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.readCurrent(list);
      if (current !== null) {
        if (ours !== null) await this.deleteGeneration(list, ours.generation).catch(() => undefined);
        return { marker: current, created: false };
      }
      let pointer: string | null;
      try {
        pointer = await this.#bulk.get(pointerKey(this.#prefix, list));
      } catch (err) {
        throw redisError(`reading the pointer of ${list}`, err);
      }
      ours ??= await this.writeGeneration({
        list,
        kind,
        keys: new Float64Array(0),
        filter: input.filter,
        normaliserVersion: input.normaliserVersion,
        hashId: input.hashId,
        fingerprint: EMPTY_FINGERPRINT,
      });
      const reply = await this.#switch(list, ours.generation, undefined, pointer);
      if (reply.status === 'switched') return { marker: ours, created: true };
      if (reply.status === 'no-marker') ours = null; // collected meanwhile: write another
    }
    throw new CallgateError(ErrorCode.GENERATION_MISMATCH, `could not give ${list} an empty generation: its pointer keeps moving`);
  }

  /** The list's current generation, or null when it has none (or its marker vanished). */
  async readCurrent(list: string): Promise<GenerationMarker | null> {
    assertListName(list);
    try {
      // Re-read when the pointer moved between the two reads (a switch then a delete of the old generation).
      for (let attempt = 0; attempt < 3; attempt++) {
        const generation = await this.#bulk.get(pointerKey(this.#prefix, list));
        if (generation === null) return null;
        const fields = await this.#bulk.hgetall(markerKey(this.#prefix, list, generation));
        if (Object.keys(fields).length > 0) return decodeMarker(fields, { list, generation });
        if ((await this.#bulk.get(pointerKey(this.#prefix, list))) === generation) return null;
      }
      return null;
    } catch (err) {
      this.#risk.noteFormat(err);
      throw redisError(`reading the current generation of ${list}`, err);
    }
  }

  /** Every name in the list registry as stored, sorted, valid list name or not (a discovering sidecar judges). */
  async listNames(): Promise<string[]> {
    try {
      return (await this.#bulk.smembers(listsKey(this.#prefix))).sort();
    } catch (err) {
      throw redisError('reading the list names', err);
    }
  }

  /** Current generations of every list Redis knows, sorted by list name. */
  async currentLists(): Promise<GenerationMarker[]> {
    let names: string[];
    try {
      names = await this.#bulk.smembers(listsKey(this.#prefix));
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
    const key = filterKey(this.#prefix, marker.list, marker.generation);
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
    const claimed = await this.#claim(list, generation, NO_CUTOFF, false);
    if (claimed === null) {
      throw new CallgateError(ErrorCode.GENERATION_MISMATCH, `refusing to delete ${list}/${generation}: it is the current generation`);
    }
    return claimed + (await this.#deleteKeys(list, generation));
  }

  /**
   * The marker-first half of a deletion, atomic with the check that the generation is not current.
   * Returns null for the current generation, -1 when skipped (not registered before the cutoff, if required),
   * else the number of markers deleted (0 or 1).
   */
  async #claim(list: string, generation: string, cutoff: string, registered: boolean): Promise<number | null> {
    let reply: unknown;
    try {
      reply = await this.#bulk.cgClaim(
        pointerKey(this.#prefix, list),
        gensKey(this.#prefix, list),
        markerKey(this.#prefix, list, generation),
        generation,
        cutoff,
        registered ? '1' : '0',
      );
    } catch (err) {
      throw redisError(`deleting ${list}/${generation}`, err);
    }
    const code: unknown = Array.isArray(reply) ? reply[0] : undefined;
    if (code === -1) return null;
    if (code !== 1) return -1;
    const markers: unknown = Array.isArray(reply) ? reply[1] : 0;
    return typeof markers === 'number' ? markers : 0;
  }

  /** Buckets (SCAN + UNLINK in batches) and filter of a claimed generation, then its registration. */
  async #deleteKeys(list: string, generation: string): Promise<number> {
    try {
      let removed = 0;
      const pattern = bucketPattern(this.#prefix, list, generation);
      let cursor = '0';
      do {
        const [next, found] = await this.#bulk.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (let i = 0; i < found.length; i += UNLINK_BATCH) {
          removed += await this.#bulk.unlink(...found.slice(i, i + UNLINK_BATCH));
        }
      } while (cursor !== '0');
      removed += await this.#bulk.unlink(filterKey(this.#prefix, list, generation), termsKey(this.#prefix, list, generation));
      // Last: an interrupted deletion stays registered (score 0) and is collected again.
      await this.#bulk.zrem(gensKey(this.#prefix, list), generation);
      return removed;
    } catch (err) {
      throw redisError(`deleting ${list}/${generation}`, err);
    }
  }

  /** Registered generations of a list with their start times (ms, Redis clock; 0 = being deleted), oldest first. */
  async registered(list: string): Promise<Array<{ generation: string; startedAt: number }>> {
    assertListName(list);
    let flat: string[];
    try {
      flat = await this.#bulk.zrange(gensKey(this.#prefix, list), '0', '-1', 'WITHSCORES');
    } catch (err) {
      throw redisError(`reading the generations of ${list}`, err);
    }
    const out: Array<{ generation: string; startedAt: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ generation: flat[i] as string, startedAt: Number(flat[i + 1]) });
    return out;
  }

  /** When a generation was registered (ms, Redis clock), or null when it is not: the natural clearIntradayBefore. */
  async generationStartedAt(list: string, generation: string): Promise<number | null> {
    assertListName(list);
    assertGenerationId(generation);
    try {
      const score = await this.#bulk.zscore(gensKey(this.#prefix, list), generation);
      return score === null ? null : Number(score);
    } catch (err) {
      throw redisError(`reading the start of ${list}/${generation}`, err);
    }
  }

  /**
   * Deletes the list's generations that are not current, not read by a live sidecar and registered more than
   * graceMs ago (old generations, and interrupted loads, which never got a marker). Marker first, so a
   * sidecar still reading one gets 'unconfirmed', never 'absent'. graceMs must exceed the longest load:
   * a load collected mid-way fails at its marker write instead of publishing a partial generation.
   */
  async collectGarbage(list: string, options: GarbageOptions): Promise<{ deleted: string[] }> {
    assertListName(list);
    if (!Number.isFinite(options.graceMs) || options.graceMs < 0) {
      throw new CallgateError(ErrorCode.CONFIG, `graceMs must be a non-negative number, got ${String(options.graceMs)}`);
    }
    const now = options.now ?? (await this.#connection.now());
    const cutoff = now - options.graceMs;
    const inUse = new Set<string>();
    for (const sidecar of await this.#fleet.liveSidecars()) {
      for (const u of sidecar.inUse) if (u.list === list) inUse.add(u.generation);
    }
    let candidates: string[];
    try {
      candidates = await this.#bulk.zrangebyscore(gensKey(this.#prefix, list), '-inf', `(${cutoff}`);
    } catch (err) {
      throw redisError(`reading the generations of ${list}`, err);
    }
    const deleted: string[] = [];
    for (const generation of candidates) {
      if (inUse.has(generation)) continue;
      try {
        assertGenerationId(generation);
      } catch {
        // Not ours to interpret (written by hand?): drop the entry, touch no keys.
        await this.#bulk.zrem(gensKey(this.#prefix, list), generation).catch(() => undefined);
        continue;
      }
      // The claim re-checks 'not current' and the cutoff atomically.
      const claimed = await this.#claim(list, generation, String(cutoff), true);
      if (claimed === null || claimed < 0) continue;
      await this.#deleteKeys(list, generation);
      deleted.push(generation);
    }
    return { deleted };
  }
}
