/**
 * The pace of the list build worker (issue 17 item 3), both ends of one SharedArrayBuffer. The worker reads,
 * parses and builds a list on the second core; on a small machine that core is also the checks' (the socket,
 * the driver, Redis), so checks wait while it runs. The main thread times how late its own timers fire (what a
 * check waiting for the event loop meets) and whether checks are being answered (its event loop's utilisation),
 * feeds refresh/pacing.ts's controller, and writes its answer in the buffer; the worker, after each unit of work
 * (WORK_UNIT_BYTES of text or WORK_UNIT_KEYS of filter keys, a millisecond or two), sleeps as told (Atomics.wait:
 * a real sleep, no CPU). The pace changes when the worker works, never what it builds.
 */
import { KEYS_PER_PROGRESS } from '../lists/generation.js';
import { PaceController, quantile, type LoadPacing, type PaceFigures } from './pacing.js';

/**
 * Int32 slots of the buffer: units of work between two pauses, the pause (ms), the worker's total sleep so far
 * (ms, for the slowdown budget). Slot 3 never changes: Atomics.wait's clock.
 */
const CHUNK = 0;
const PAUSE_MS = 1;
const SLEPT_MS = 2;
const SLEEP = 3;
const SLOTS = 4;

/** A unit of the worker's work: this much list text read and parsed, or this many keys added to the filter. */
export const WORK_UNIT_BYTES = 64 << 10;
export const WORK_UNIT_KEYS = KEYS_PER_PROGRESS;
/** Units between pauses at full speed: effectively never. */
const MAX_CHUNK = 1 << 20;

/** How often the main thread probes its timers' lateness (ms), and how often it reads its utilisation. */
const PROBE_EVERY_MS = 2;
const TRAFFIC_EVERY_MS = 100;
const BASELINE_PROBES = 25;
/** Event-loop utilisation above which checks are being answered: one-in-flight checks keep it well above. */
const TRAFFIC_MIN_UTILISATION = 0.05;

export function newPaceBuffer(): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
  new Int32Array(buffer)[CHUNK] = MAX_CHUNK;
  return buffer;
}

/** Worker side: call after each piece of work with its size in units; sleeps when the main thread says so. */
export function workerPace(buffer: SharedArrayBuffer): (units: number) => void {
  const slots = new Int32Array(buffer);
  let done = 0;
  return (units) => {
    done += units;
    if (done < Atomics.load(slots, CHUNK)) return;
    done = 0;
    const pauseMs = Atomics.load(slots, PAUSE_MS);
    if (pauseMs > 0) {
      Atomics.wait(slots, SLEEP, 0, pauseMs);
      Atomics.add(slots, SLEPT_MS, pauseMs);
    }
  };
}

export interface WorkerPaceFigures extends PaceFigures {
  readonly baselineUs: number;
  readonly probes: number;
  readonly pausedMs: number;
}

/** Main side: paces the worker reading this buffer until stop(). */
export class WorkerPacer {
  readonly #slots: Int32Array;
  readonly #controller: PaceController;
  readonly #baselineUs: number;
  #timer: NodeJS.Timeout | null = null;
  #elu = performance.eventLoopUtilization();
  #eluAt = performance.now();
  #probes = 0;
  #stopped = false;
  readonly #startedAt = performance.now();

  private constructor(buffer: SharedArrayBuffer, controller: PaceController, baselineUs: number) {
    this.#slots = new Int32Array(buffer);
    this.#controller = controller;
    this.#baselineUs = baselineUs;
  }

  /** Measures the baseline lateness of this thread's timers, then starts pacing. */
  static async start(buffer: SharedArrayBuffer, pacing: LoadPacing): Promise<WorkerPacer> {
    const samples: number[] = [];
    for (let i = 0; i < BASELINE_PROBES; i++) samples.push(await lateness());
    const baselineUs = quantile(samples, 0.99);
    const controller = new PaceController({ targetRatio: pacing.targetRatio, targetUs: pacing.targetUs, maxChunk: MAX_CHUNK, minChunk: 1, maxPauseMs: pacing.maxPauseMs, window: 20, maxSlowdown: pacing.maxSlowdown }, baselineUs);
    const pacer = new WorkerPacer(buffer, controller, baselineUs);
    pacer.#probe();
    return pacer;
  }

  stop(): WorkerPaceFigures {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    return { ...this.#controller.figures(), baselineUs: this.#baselineUs, probes: this.#probes, pausedMs: Atomics.load(this.#slots, SLEPT_MS) };
  }

  #probe(): void {
    const due = performance.now() + PROBE_EVERY_MS;
    this.#timer = setTimeout(() => {
      const now = performance.now();
      this.#probes++;
      if (now - this.#eluAt >= TRAFFIC_EVERY_MS) {
        const elu = performance.eventLoopUtilization(this.#elu);
        this.#elu = performance.eventLoopUtilization();
        this.#eluAt = now;
        this.#controller.traffic(elu.utilization > TRAFFIC_MIN_UTILISATION);
      }
      this.#controller.sample(Math.max(0, now - due) * 1000);
      const pausedMs = Atomics.load(this.#slots, SLEPT_MS);
      const { chunk, pauseMs } = this.#controller.next({ activeMs: now - this.#startedAt - pausedMs, pausedMs });
      Atomics.store(this.#slots, CHUNK, chunk);
      Atomics.store(this.#slots, PAUSE_MS, Math.round(pauseMs));
      if (!this.#stopped) this.#probe();
    }, PROBE_EVERY_MS);
    // Never what keeps the process alive.
    this.#timer.unref();
  }
}

function lateness(): Promise<number> {
  const due = performance.now() + PROBE_EVERY_MS;
  return new Promise((resolve) => setTimeout(() => resolve(Math.max(0, performance.now() - due) * 1000), PROBE_EVERY_MS));
}
