/**
 * Redis's answers per list: every Bloom hit sent to Redis for exact confirmation (deny-lists fast path and
 * rules script alike) comes back member / absent / unconfirmed (allow-lists also revoked / expired). Counted
 * per list since start (for /metrics) and per minute (for the unconfirmed_rate alert: a Redis that stops
 * confirming blocks every hit, which without this shows only as a rising block rate). Only hits reach here,
 * so the cost is a couple of Map operations per confirmed item, none per Bloom miss. Never a phone number.
 */
import type { Candidate, RemoteConfirmer } from '../check/deny-lists.js';
import { MINUTE_MS } from '../core/time.js';


export interface ListConfirmFigures {
  readonly list: string;
  /** Items Redis was asked about over the window. */
  readonly answers: number;
  /** Of those, answered `unconfirmed` (timeout, Redis down or hung, marker or bucket missing, script error). */
  readonly unconfirmed: number;
}

interface Minute {
  readonly minute: number;
  /** list → [answers, unconfirmed] */
  readonly counts: Map<string, [number, number]>;
}

export interface ConfirmStatsOptions {
  /** Longest window asked of figures(); minutes older than it are forgotten. @default 1 hour */
  readonly keepMs?: number;
  readonly now?: () => number;
}

export class ConfirmStats {
  readonly #keepMs: number;
  readonly #now: () => number;
  /** list → answer word → count since start. */
  readonly #totals = new Map<string, Map<string, number>>();
  readonly #minutes: Minute[] = [];

  constructor(options: ConfirmStatsOptions = {}) {
    this.#keepMs = options.keepMs ?? 60 * MINUTE_MS;
    this.#now = options.now ?? Date.now;
  }

  #current(): Minute {
    const now = this.#now();
    const minute = now - (now % MINUTE_MS);
    let m = this.#minutes[this.#minutes.length - 1];
    if (m === undefined || m.minute !== minute) {
      m = { minute, counts: new Map() };
      this.#minutes.push(m);
      while ((this.#minutes[0] as Minute).minute < minute - this.#keepMs - MINUTE_MS) this.#minutes.shift();
    }
    return m;
  }

  /** One item's answer. */
  record(list: string, answer: string): void {
    let byAnswer = this.#totals.get(list);
    if (byAnswer === undefined) this.#totals.set(list, (byAnswer = new Map()));
    byAnswer.set(answer, (byAnswer.get(answer) ?? 0) + 1);
    const counts = this.#current().counts;
    let c = counts.get(list);
    if (c === undefined) counts.set(list, (c = [0, 0]));
    c[0]++;
    if (answer === 'unconfirmed') c[1]++;
  }

  /** Counts since start: list → answer → n (for Prometheus, read when scraped). */
  totals(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return this.#totals;
  }

  /** Per list over the last `windowMs` (whole minutes: the oldest one that overlaps counts whole). */
  figures(windowMs: number): ListConfirmFigures[] {
    const now = this.#now();
    this.#current();
    const per = new Map<string, [number, number]>();
    for (const m of this.#minutes) {
      if (m.minute + MINUTE_MS <= now - windowMs) continue;
      for (const [list, [n, u]] of m.counts) {
        const c = per.get(list);
        if (c === undefined) per.set(list, [n, u]);
        else {
          c[0] += n;
          c[1] += u;
        }
      }
    }
    return [...per].map(([list, [answers, unconfirmed]]) => ({ list, answers, unconfirmed }));
  }
}

/** The remote confirmer with each answer counted against its list. */
export function countingConfirmer(inner: RemoteConfirmer, counts: ConfirmStats): RemoteConfirmer {
  return {
    async confirm(candidates: readonly Candidate[]) {
      const answers = await inner.confirm(candidates);
      for (let i = 0; i < candidates.length; i++) counts.record((candidates[i] as Candidate).state.spec.name, answers[i] ?? 'unconfirmed');
      return answers;
    },
  };
}
