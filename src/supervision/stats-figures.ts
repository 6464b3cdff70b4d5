/**
 * Where the stats view's figures come from (StatsFigures): this process's own counts (ProcessFigures, below),
 * or the whole fleet's in Redis (supervision/fleet-stats.ts FleetStats). The stats service asks this port and
 * never which mode it runs in; the composition root picks the implementation (backends/gate-mode.ts).
 */
import { type CheckStats, SLOT_MS } from './check-stats.js';
import { lastMinuteFigures, type MinuteCounts, type SidecarView, type SlotCounts, WINDOWS_MS } from './stats-view.js';

export interface StatsFigures {
  /** 'fleet': every sidecar's counts; 'process': this process's only. */
  readonly scope: 'fleet' | 'process';
  /** Per-minute counts from `sinceMs` to now. */
  minutes(sinceMs: number): Promise<MinuteCounts[]>;
  /** The 10-second slots covering the last 60 s (the slot in progress and the six before it). */
  lastMinuteSlots(now: number): Promise<readonly SlotCounts[]>;
  /** The sidecar table. */
  sidecars(now: number): Promise<SidecarView[]>;
  /** Starts keeping the figures where others read them (Redis: the flush timer). */
  start(): void;
  /** Stops that, flushing what is left. */
  stop(): Promise<void>;
}

export interface ProcessFiguresOptions {
  readonly stats: CheckStats;
  readonly instanceId: string;
  /** The mode shown in the sidecar table (a Redis-mode sidecar with fleet figures off shows itself alone). */
  readonly mode: 'embedded' | 'redis';
}

/** This process's own figures: nothing to share, so start() and stop() have nothing to do. */
export class ProcessFigures implements StatsFigures {
  readonly scope = 'process';
  readonly #o: ProcessFiguresOptions;

  constructor(options: ProcessFiguresOptions) {
    this.#o = options;
  }

  minutes(sinceMs: number): Promise<MinuteCounts[]> {
    return Promise.resolve([...this.#o.stats.minutesSince(sinceMs)]);
  }

  lastMinuteSlots(now: number): Promise<readonly SlotCounts[]> {
    return Promise.resolve(this.#slots(now));
  }

  sidecars(now: number): Promise<SidecarView[]> {
    const recent = this.#o.stats.minutesSince(now - (now % 60_000) - 60_000);
    const w = lastMinuteFigures(this.#slots(now), now);
    const last = recent[recent.length - 1];
    const p99 = last?.latency.quantileUs(0.99) ?? null;
    return Promise.resolve([{ id: this.#o.instanceId, lastSeen: new Date(now).toISOString(), up: true, mode: this.#o.mode, checks1m: w.checks, blocked1m: w.blocked, p99Ms: p99 === null ? null : p99 / 1000 }]);
  }

  start(): void {}

  stop(): Promise<void> {
    return Promise.resolve();
  }

  /** This process's slots of the last minute's window (the slot in progress and the six before it). */
  #slots(now: number): readonly SlotCounts[] {
    return this.#o.stats.slotsSince(now - (now % SLOT_MS) - WINDOWS_MS['1m']);
  }
}
