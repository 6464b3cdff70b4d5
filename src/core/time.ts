/**
 * Time constants and the one way long loops give checks a turn. Every module counts in milliseconds
 * of the Unix epoch; these are the only definitions of a minute, an hour and a day.
 */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Lets queued I/O (checks waiting on the socket) run between slices of a long synchronous job. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
