/**
 * How run.ts drives the HTTP scenario (bench/http-driver.ts): against the HTTP echo (the floor) and
 * against callgate's `GET /v1/check`, in every round, so their p99s are compared within a round.
 */
export const HTTP_ECHO_SCRIPT = 'bench/http-echo-server.ts';

/** The driver's arguments for a target whose WebSocket url is `wsUrl` (same port serves HTTP). */
export function httpDriverArgs(tsx: readonly string[], wsUrl: string, o: { size: number; seed: number; measureMs: number; warmupMs: number; verify: boolean; serverPid?: number }): string[] {
  const url = wsUrl.replace(/^ws:/, 'http:').replace(/\/$/, '');
  const args = [...tsx, 'bench/http-driver.ts', '--url', url, '--size', String(o.size), '--seed', String(o.seed), '--measure-ms', String(o.measureMs), '--warmup-ms', String(o.warmupMs)];
  if (o.verify) args.push('--verify');
  if (o.serverPid !== undefined) args.push('--server-pid', String(o.serverPid));
  return args;
}
