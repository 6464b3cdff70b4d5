/**
 * The pace of a bulk load (issue 17 item 3): an AIMD controller, like TCP's congestion window, that sizes the
 * load's chunks and the pause after each from the latency checks see while it runs. Pure: the caller feeds it
 * latency samples (a probe timed while a chunk runs, or the event loop's delay) and whether there is traffic,
 * and asks before each chunk how big it may be and how long to wait first.
 *
 * - No traffic (nobody to slow down, e.g. at 02:30): full speed, whatever the samples say.
 * - Traffic: starts at the smallest chunk and doubles it while the recent p99 stays under the target (slow
 *   start); past the first congestion, grows it by one chunk unit per clear decision (additive increase) and
 *   halves it on congestion (multiplicative decrease). At the smallest chunk, congestion doubles a pause
 *   between chunks instead, which clear decisions halve again.
 * - Floors, so a load under traffic that never drops still finishes: the chunk never falls under minChunk, the
 *   pause never exceeds maxPauseMs, and, given the load's progress, what pacing costs (pauses, and the extra
 *   round trips of small chunks, as the caller counts them) never adds up to more than (maxSlowdown - 1) × the
 *   time it spent working: it takes at most about maxSlowdown × an unpaced load's time. With that budget
 *   spent, the latency target gives way to the deadline: full speed until working time earns more budget.
 */

export interface PaceSettings {
  /** Latency target as a multiple of the baseline p99 measured before the load. @default 1.5 */
  readonly targetRatio: number;
  /** An absolute latency target (µs) instead of baseline × targetRatio; null: use the ratio. @default null */
  readonly targetUs: number | null;
  /** The chunk of full speed (the unpaced load's). */
  readonly maxChunk: number;
  /** The smallest chunk: the floor of the rate with maxPauseMs. @default 1 */
  readonly minChunk: number;
  /** The longest pause between two chunks: the floor of the rate with minChunk. */
  readonly maxPauseMs: number;
  /** Samples per decision: the p99 of each window of this many is compared with the target. @default 20 */
  readonly window: number;
  /** The pauses never add up to more than (maxSlowdown - 1) × the time spent working. @default 3 */
  readonly maxSlowdown: number;
}

/** How far a load is: the time it spent working at full speed, and what pacing cost it so far (ms). */
export interface LoadProgress {
  readonly activeMs: number;
  /** Pauses, plus the extra time of chunks smaller than the full-speed one (their extra round trips). */
  readonly pausedMs: number;
}

export interface Pace {
  /** Units (commands, lines, keys) the next chunk may carry. */
  readonly chunk: number;
  /** How long to wait before sending it (ms). */
  readonly pauseMs: number;
}

export interface PaceFigures {
  readonly targetUs: number;
  readonly decisions: number;
  readonly congestions: number;
  /** Decisions taken at the floor (smallest chunk, longest pause) that still saw congestion. */
  readonly atFloor: number;
  readonly chunk: number;
  readonly pauseMs: number;
}

/** The q-quantile (0..1) of samples by nearest rank; NaN for none. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** The smallest pause the controller sets when it starts pausing (ms); halving below it ends the pause. */
const FIRST_PAUSE_MS = 1;

export class PaceController {
  readonly #s: PaceSettings;
  readonly #targetUs: number;
  #chunk: number;
  #pauseMs = 0;
  #traffic = false;
  #slowStart = true;
  #samples: number[] = [];
  #decisions = 0;
  #congestions = 0;
  #atFloor = 0;

  /** baselineUs: the p99 of the same kind of samples before the load (no load running). */
  constructor(settings: PaceSettings, baselineUs: number) {
    if (!(settings.minChunk >= 1 && settings.maxChunk >= settings.minChunk)) throw new RangeError(`chunk bounds must satisfy 1 <= minChunk <= maxChunk, got ${settings.minChunk}..${settings.maxChunk}`);
    if (!(settings.maxPauseMs >= 0) || !(settings.window >= 1) || !(settings.targetRatio >= 1) || !(settings.maxSlowdown >= 1)) throw new RangeError('maxPauseMs must be >= 0, window >= 1, targetRatio >= 1, maxSlowdown >= 1');
    this.#s = settings;
    // A baseline of 0 (a timer's resolution) would make every sample congestion: 1 µs at least.
    this.#targetUs = settings.targetUs ?? Math.max(1, baselineUs) * settings.targetRatio;
    this.#chunk = settings.maxChunk;
  }

  /** Whether checks are being answered (anyone to slow down for). A load with no traffic runs at full speed. */
  traffic(active: boolean): void {
    if (active === this.#traffic) return;
    this.#traffic = active;
    this.#samples = [];
    if (active) {
      // Traffic arrived: start small and probe upwards, as a new TCP connection does.
      this.#chunk = this.#s.minChunk;
      this.#pauseMs = 0;
      this.#slowStart = true;
    }
  }

  /** One latency sample (µs) seen while the load ran. */
  sample(latencyUs: number): void {
    if (!this.#traffic || !Number.isFinite(latencyUs)) return;
    this.#samples.push(latencyUs);
    if (this.#samples.length >= this.#s.window) this.#decide();
  }

  /** The next chunk's size and the pause before it; with the load's progress, the pause within the slowdown budget. */
  next(progress?: LoadProgress): Pace {
    if (!this.#traffic) return { chunk: this.#s.maxChunk, pauseMs: 0 };
    if (progress === undefined) return { chunk: this.#chunk, pauseMs: this.#pauseMs };
    const budget = (this.#s.maxSlowdown - 1) * progress.activeMs - progress.pausedMs;
    if (budget <= 0) return { chunk: this.#s.maxChunk, pauseMs: 0 };
    return { chunk: this.#chunk, pauseMs: Math.min(this.#pauseMs, budget) };
  }

  figures(): PaceFigures {
    return { targetUs: this.#targetUs, decisions: this.#decisions, congestions: this.#congestions, atFloor: this.#atFloor, chunk: this.#chunk, pauseMs: this.#pauseMs };
  }

  #decide(): void {
    const p99 = quantile(this.#samples, 0.99);
    // Each decision judges the samples taken under the previous one only.
    this.#samples = [];
    this.#decisions++;
    const { minChunk, maxChunk, maxPauseMs } = this.#s;
    if (p99 > this.#targetUs) {
      this.#congestions++;
      this.#slowStart = false;
      if (this.#chunk > minChunk) this.#chunk = Math.max(minChunk, Math.floor(this.#chunk / 2));
      else {
        if (this.#pauseMs >= maxPauseMs) this.#atFloor++;
        this.#pauseMs = Math.min(maxPauseMs, Math.max(FIRST_PAUSE_MS, this.#pauseMs * 2));
      }
      return;
    }
    // Clear: give back the pause first, then grow the chunk.
    if (this.#pauseMs > 0) {
      this.#pauseMs = this.#pauseMs / 2 < FIRST_PAUSE_MS ? 0 : this.#pauseMs / 2;
      return;
    }
    this.#chunk = Math.min(maxChunk, this.#slowStart ? this.#chunk * 2 : this.#chunk + minChunk);
  }
}

/** The pacing options of a load (src/config/options.ts: refreshPacing…), global to every list. */
export interface LoadPacing {
  readonly enabled: boolean;
  /**
   * The build worker paces itself too (refresh/worker-pace.ts). Off by default: on 2 busy cores it did not lower
   * the checks' p99 during an embedded load (3 runs, docs/performance.md), only made the load longer.
   */
  readonly worker: boolean;
  readonly targetRatio: number;
  readonly targetUs: number | null;
  readonly maxPauseMs: number;
  readonly maxSlowdown: number;
}

export const DEFAULT_LOAD_PACING: LoadPacing = Object.freeze({ enabled: true, worker: false, targetRatio: 1.5, targetUs: null, maxPauseMs: 20, maxSlowdown: 3 });
