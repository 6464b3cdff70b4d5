/**
 * The I/O half of a paced load into Redis (issue 17 item 3; the controller is refresh/pacing.ts). What a load
 * does to checks is what a confirmation sees: Redis runs one command at a time, so every sidecar's confirms
 * queue behind the load's pipelines, and on a small machine Redis and the load take CPU from the checks. So:
 * - the latency signal is a PING on the 'fast' connection (the confirmations' own) sent while a chunk runs,
 *   timed to its reply: what a confirmation from any sidecar arriving then would wait; its baseline is the
 *   same probe before the load;
 * - the traffic signal is Redis's own count of commands processed (INFO stats), less the load's own: when
 *   nobody else sends commands, nobody waits behind the load, and it runs at full speed.
 * The pacer only ever delays writes or makes them smaller: what is written, and in which order, is unchanged.
 */
import { PaceController, quantile, type LoadPacing, type PaceFigures } from '../refresh/pacing.js';

/** What a generation's writer asks of a pacer between its chunks. */
export interface ChunkPacer {
  /** Waits the pause the controller asks for, then says how many units (of maxChunk) the next chunk may carry. */
  next(): Promise<number>;
  /** A chunk of `commands` commands was sent and runs until `done` settles: probe what others see meanwhile. */
  running(done: Promise<unknown>, commands: number): void;
}

/** What the pacer sends: PING on the confirmations' connection, INFO on the load's (redis/connection.ts Client). */
export interface PacerClients {
  readonly fast: { ping(): Promise<unknown> };
  readonly bulk: { info(section: 'stats'): Promise<string> };
}

/** Full speed: the unpaced load. */
export const FULL_SPEED: ChunkPacer = { next: async () => Number.POSITIVE_INFINITY, running: () => {} };

/** Probes timed before the load for the baseline. */
const BASELINE_PROBES = 30;
/** How often Redis's command count is read for the traffic signal. */
const TRAFFIC_EVERY_MS = 200;
/**
 * Commands per second from others (not this load) that count as traffic: above the fleet's own background
 * (heartbeats every 5 s, pointer polls every 2 s, lock renewals per sidecar), below any dialer's checks.
 */
const TRAFFIC_MIN_PER_S = 50;

export interface LoadPacerFigures extends PaceFigures {
  readonly baselineUs: number;
  readonly probes: number;
  readonly pausedMs: number;
  /** Share of the traffic readings that saw traffic. */
  readonly trafficShare: number;
}

function commandsProcessed(info: string): number {
  const m = /total_commands_processed:(\d+)/.exec(info);
  return m === null ? Number.NaN : Number(m[1]);
}

export class RedisLoadPacer implements ChunkPacer {
  readonly #fast: PacerClients['fast'];
  readonly #bulk: PacerClients['bulk'];
  readonly #controller: PaceController;
  readonly #baselineUs: number;
  /** A round trip with no load running (the baseline probes' median, ms): what each extra chunk costs. */
  readonly #roundTripMs: number;
  readonly #maxChunk: number;
  #chunks = 0;
  #commands = 0;
  #probing = false;
  readonly #startedAt = performance.now();
  #probes = 0;
  #pausedMs = 0;
  /** Commands this load sent (chunks, probes, its INFO readings): not traffic. */
  #ours = 0;
  #lastCount = Number.NaN;
  #lastCountAt = 0;
  #reading = false;
  #readings = 0;
  #busyReadings = 0;

  private constructor(fast: PacerClients['fast'], bulk: PacerClients['bulk'], controller: PaceController, baselineUs: number, roundTripMs: number, maxChunk: number) {
    this.#fast = fast;
    this.#bulk = bulk;
    this.#controller = controller;
    this.#baselineUs = baselineUs;
    this.#roundTripMs = roundTripMs;
    this.#maxChunk = maxChunk;
  }

  /** Measures the baseline (probes with no load running) and whether there is traffic, then paces chunks of up to maxChunk units. */
  static async start(clients: PacerClients, pacing: LoadPacing, maxChunk: number): Promise<RedisLoadPacer> {
    const samples: number[] = [];
    for (let i = 0; i < BASELINE_PROBES; i++) samples.push(await timePing(clients.fast));
    const baselineUs = quantile(samples, 0.99);
    const controller = new PaceController({ targetRatio: pacing.targetRatio, targetUs: pacing.targetUs, maxChunk, minChunk: 1, maxPauseMs: pacing.maxPauseMs, window: 20, maxSlowdown: pacing.maxSlowdown }, baselineUs);
    const pacer = new RedisLoadPacer(clients.fast, clients.bulk, controller, baselineUs, quantile(samples, 0.5) / 1000, maxChunk);
    // Two readings of the command count: the first traffic decision is taken before the first chunk.
    await pacer.#readTraffic();
    await new Promise((resolve) => setTimeout(resolve, TRAFFIC_EVERY_MS / 2));
    await pacer.#readTraffic();
    return pacer;
  }

  async next(): Promise<number> {
    if (!this.#reading && performance.now() - this.#lastCountAt >= TRAFFIC_EVERY_MS) {
      // Not awaited: a slow INFO must not hold the load; one reading at a time.
      this.#reading = true;
      void this.#readTraffic().finally(() => (this.#reading = false));
    }
    // What pacing cost so far: the pauses, and a round trip for each chunk beyond those full-speed chunks would have taken.
    const extraMs = Math.max(0, this.#chunks - this.#commands / this.#maxChunk) * this.#roundTripMs;
    const costMs = this.#pausedMs + extraMs;
    const { chunk, pauseMs } = this.#controller.next({ activeMs: Math.max(0, performance.now() - this.#startedAt - costMs), pausedMs: costMs });
    if (pauseMs > 0) {
      const t0 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      this.#pausedMs += performance.now() - t0;
    }
    return chunk;
  }

  running(done: Promise<unknown>, commands: number): void {
    this.#ours += commands;
    this.#chunks++;
    this.#commands += commands;
    if (this.#probing) return;
    this.#probing = true;
    this.#ours++;
    this.#probes++;
    timePing(this.#fast).then(
      (us) => this.#controller.sample(us),
      // A probe that fails (disconnection) says nothing about latency; the load's own writes fail the load.
      () => undefined,
    ).finally(() => (this.#probing = false));
    // The chunk's outcome is the writer's business; here only its timing.
    done.catch(() => undefined);
  }

  figures(): LoadPacerFigures {
    return { ...this.#controller.figures(), baselineUs: this.#baselineUs, probes: this.#probes, pausedMs: Math.round(this.#pausedMs), trafficShare: this.#readings === 0 ? 0 : this.#busyReadings / this.#readings };
  }

  async #readTraffic(): Promise<void> {
    let info: string;
    try {
      info = await this.#bulk.info('stats');
    } catch {
      return;
    }
    const at = performance.now();
    const count = commandsProcessed(info);
    this.#ours++;
    if (Number.isFinite(this.#lastCount) && at > this.#lastCountAt) {
      const others = count - this.#lastCount - this.#ours;
      const busy = (others * 1000) / (at - this.#lastCountAt) > TRAFFIC_MIN_PER_S;
      this.#readings++;
      if (busy) this.#busyReadings++;
      this.#controller.traffic(busy);
    }
    this.#lastCount = count;
    this.#lastCountAt = at;
    this.#ours = 0;
  }
}

async function timePing(fast: PacerClients['fast']): Promise<number> {
  const t0 = performance.now();
  await fast.ping();
  return (performance.now() - t0) * 1000;
}
