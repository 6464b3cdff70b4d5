/**
 * The timing of a closed-loop measurement, shared by the load drivers: load runs throughout; a warm-up
 * (JIT, connection pools) is left out, then figures are recorded for exactly the measured window.
 */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits `warmupMs`, then brackets `measureMs` with onMeasuring(true) / onMeasuring(false). Returns the measured seconds. */
export async function measureWindow(warmupMs: number, measureMs: number, onMeasuring: (on: boolean) => void): Promise<number> {
  await sleep(warmupMs);
  onMeasuring(true);
  const t0 = performance.now();
  await sleep(measureMs);
  onMeasuring(false);
  return (performance.now() - t0) / 1000;
}
