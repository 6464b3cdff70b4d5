/**
 * Fault tests: keeps asking sidecars about numbers that must never be allowed while faults are injected, and
 * records every allow (a wrong allow). Sidecars come and go: the probes are read afresh each round, and a
 * request on a closing connection is not an answer.
 */
import type { CheckClient } from './raw-check-client.js';

export interface NeverAllow {
  /** Said in the report of a wrong allow. */
  readonly label: string;
  readonly client: CheckClient;
  readonly request: Record<string, unknown>;
}

export interface Watch {
  /** Rounds completed so far (every probe asked once per round). */
  rounds(): number;
  /** The wrong allows seen so far. */
  seen(): readonly string[];
  /** Stops and returns the wrong allows seen ("label: reply"). */
  stop(): Promise<string[]>;
}

export function watchNeverAllowed(probes: () => readonly NeverAllow[]): Watch {
  const wrong: string[] = [];
  let running = true;
  let rounds = 0;
  const loop = (async () => {
    while (running) {
      for (const p of probes()) {
        if (!running) break;
        try {
          // A request sent on a connection that closed meanwhile never settles: give up on it (no answer).
          const reply = await Promise.race([p.client.request(p.request), new Promise<Record<string, unknown>>((resolve) => setTimeout(() => resolve({}), 2000).unref())]);
          if (reply['verdict'] === 'allow') wrong.push(`${p.label}: ${JSON.stringify(reply)}`);
        } catch {
          // A connection closed by a restart: no answer, nothing allowed.
        }
      }
      rounds++;
      // Let the event loop breathe between rounds (in-process sidecars share it).
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    rounds: () => rounds,
    seen: () => [...wrong],
    stop: async () => {
      running = false;
      await loop;
      return wrong;
    },
  };
}
