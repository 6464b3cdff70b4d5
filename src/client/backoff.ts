/**
 * The client's reconnect delays: exponential, capped, jittered. Pure: the random source is passed in,
 * so tests pin it.
 */

export interface BackoffOptions {
  /** Delay ceiling of the first attempt after a loss. */
  readonly initialMs: number;
  /** No delay ceiling goes above this. */
  readonly maxMs: number;
  /** Each failed attempt multiplies the ceiling by this. */
  readonly factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ initialMs: 100, maxMs: 5000, factor: 2 });

/**
 * The wait before reconnect attempt `attempt` (0 for the first after a loss): "equal jitter" — half the
 * ceiling fixed, half random — so a floor of dialers restarted together does not reconnect in lockstep
 * (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015), and no wait is ever zero, so a gate
 * that refuses at once is not hammered in a loop.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  // The exponent is capped before the power: factor ** 1000 is Infinity, and Infinity / 2 is no delay.
  const ceiling = Math.min(options.maxMs, options.initialMs * options.factor ** Math.min(Math.max(0, attempt), 52));
  return ceiling / 2 + (random() * ceiling) / 2;
}
