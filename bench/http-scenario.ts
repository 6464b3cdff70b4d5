/**
 * How run.ts and http-overhead.ts drive the HTTP scenario (bench/http-driver.ts): callgate's `GET /v1/check`
 * and the HTTP echo (the floor) measured by one driver in the same window, requests alternating in short turns,
 * so that their p99s are compared under the same load.
 */
export const HTTP_ECHO_SCRIPT = 'bench/http-echo-server.ts';

/**
 * Requests in a row to one side before the other's turn (the first side alternating turn by turn). An A/A test,
 * two HTTP echoes paired (1.5 s windows, load 18–25 on 2 cores), gave p99 ratios 0.31–1.53 in turns of 1 and
 * 0.39–1.29 in turns of 4, but 0.30–8.02 in turns of 32: a burst of load covers a long turn of one side. Turns of
 * 1 leave both servers idle between requests, a constant added to both (p50 ratio 1.15–1.19 one at a time, ~1.31
 * in turns of 8 or 32); 4 keeps a server taking requests back to back.
 */
export const HTTP_PAIR_BLOCK = 4;

/** The prefix of the floor's figures in the driver's output (bench/http-driver.ts --floor-url). */
export const FLOOR_PREFIX = 'floor.';

function httpUrl(wsUrl: string): string {
  return wsUrl.replace(/^ws:/, 'http:').replace(/\/$/, '');
}

/**
 * The driver's arguments for a target whose WebSocket url is `wsUrl` (same port serves HTTP); with `floor`,
 * the floor (the HTTP echo) is measured in the same window, its figures prefixed FLOOR_PREFIX.
 */
export function httpDriverArgs(
  tsx: readonly string[],
  wsUrl: string,
  o: { size: number; seed: number; measureMs: number; warmupMs: number; verify: boolean; serverPid?: number; floor?: { url: string; pid: number; block?: number } },
): string[] {
  const args = [...tsx, 'bench/http-driver.ts', '--url', httpUrl(wsUrl), '--size', String(o.size), '--seed', String(o.seed), '--measure-ms', String(o.measureMs), '--warmup-ms', String(o.warmupMs)];
  if (o.verify) args.push('--verify');
  if (o.serverPid !== undefined) args.push('--server-pid', String(o.serverPid));
  if (o.floor !== undefined) args.push('--floor-url', httpUrl(o.floor.url), '--floor-pid', String(o.floor.pid), '--block', String(o.floor.block ?? HTTP_PAIR_BLOCK));
  return args;
}

/** A paired run's figures split by side: the target's (`http-single.*`) and the floor's (FLOOR_PREFIX removed). */
export function splitPairFigures<V>(figures: Readonly<Record<string, V>>): { target: Record<string, V>; floor: Record<string, V> } {
  const target: Record<string, V> = {};
  const floor: Record<string, V> = {};
  for (const [name, value] of Object.entries(figures)) {
    if (name.startsWith(FLOOR_PREFIX)) floor[name.slice(FLOOR_PREFIX.length)] = value;
    else target[name] = value;
  }
  return { target, floor };
}
