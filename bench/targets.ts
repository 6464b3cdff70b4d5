/**
 * The servers a driver measures, each its own process: the raw `ws` echo (the floor), callgate embedded,
 * callgate in Redis mode. A target is a command line plus a readiness rule; Redis mode is the embedded
 * command with extra flags, so a new mode is one more entry here.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { collectOutput, spawnTracked, stopChild } from './children.js';
import { procBytes } from './proc-stats.js';

export type TargetName = 'echo' | 'http-echo' | 'ws-set' | 'ws-redis' | 'callgate' | 'callgate-noaudit' | 'callgate-nostats' | 'callgate-redis';

export interface TargetSpec {
  readonly name: TargetName;
  readonly command: string;
  readonly args: readonly string[];
  /** Whether /readyz must answer 200 before the target is measured (lists loaded). */
  readonly readyz: boolean;
  /** How long loading may take. */
  readonly readyTimeoutMs: number;
  /** A campaign under fr-optin the driver measures as closed-optin. */
  readonly optin?: string;
  /** Measure only the open-loop scenarios. */
  readonly onlyOpen?: boolean;
  /** Also an open loop of listed numbers only (driver --open-block): CPU per check of the block path. */
  readonly openBlock?: boolean;
  /** The private redis-server whose script cost the driver reads per scenario (driver --redis-port). */
  readonly redisPort?: number;
  /** Environment added to the target's (e.g. CALLGATE_STATS=false: the CLI takes no --no-… flags). */
  readonly env?: Readonly<Record<string, string>>;
  /** Whether the driver checks verdicts first (a floor server does no normalisation: its verdicts differ). */
  readonly verify?: boolean;
}

export interface RunningTarget {
  readonly name: TargetName;
  readonly url: string;
  readonly pid: number;
  /** Seconds from spawn to ready (for callgate: list loaded). */
  readonly readySeconds: number;
  readonly child: ChildProcess;
  readonly spec: TargetSpec;
  stop(): Promise<void>;
}

export type StartOutcome =
  | { readonly ok: true; readonly target: RunningTarget }
  /** The build has no such mode: skip it. */
  | { readonly ok: false; readonly unavailable: true; readonly reason: string }
  /** It should have worked and did not: a failure to report. */
  | { readonly ok: false; readonly unavailable: false; readonly reason: string };

/** Messages with which a build without Redis mode rejects `--redis`. */
const UNAVAILABLE = /not available in this build/i;

/** pino's error level: an error logged before readiness (e.g. a list that failed to load) ends the wait. */
const PINO_ERROR = 50;

function errorLine(line: string): string | null {
  if (!line.includes('"level":')) return null;
  try {
    const msg = JSON.parse(line) as { level?: unknown };
    return typeof msg.level === 'number' && msg.level >= PINO_ERROR ? line : null;
  } catch {
    return null;
  }
}

function listeningPort(line: string): number | null {
  if (!line.includes('listening')) return null;
  try {
    const msg = JSON.parse(line) as { msg?: unknown; port?: unknown };
    return msg.msg === 'listening' && typeof msg.port === 'number' ? msg.port : null;
  } catch {
    return null;
  }
}

async function readyzOk(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export function rssMb(pid: number): number {
  return procBytes(pid, 'VmRSS') / 2 ** 20;
}

/**
 * `callgate serve` as the bench starts it: on a free loopback port, production defaults (audit trail and journal
 * on) with their files in `scratch`, the list (if any) named `bench`. `listSettleMs` 0: a list generated just now
 * would otherwise wait to settle, counted as load time.
 */
export function callgateServeArgs(list: string | null, scratch: string, o: { listSettleMs?: number } = {}): string[] {
  const listArgs = list === null ? [] : ['--list', `bench=${list}`, ...(o.listSettleMs === undefined ? [] : ['--list-settle-ms', String(o.listSettleMs)])];
  return ['bin/callgate.js', 'serve', '--host', '127.0.0.1', '--port', '0', ...listArgs, '--shutdown-grace-ms', '1000', '--audit-dir', join(scratch, 'audit'), '--journal', join(scratch, 'journal.jsonl')];
}

/** startTarget for a target the script cannot do without: throws when it does not start. */
export async function mustStart(spec: TargetSpec): Promise<RunningTarget> {
  const outcome = await startTarget(spec);
  if (!outcome.ok) throw new Error(`${spec.name} did not start: ${outcome.reason}`);
  return outcome.target;
}

export async function startTarget(spec: TargetSpec): Promise<StartOutcome> {
  const started = performance.now();
  const child = spawnTracked(spec.command, spec.args, spec.env === undefined ? {} : { env: { ...process.env, ...spec.env } });
  const out = collectOutput(child);
  const deadline = Date.now() + spec.readyTimeoutMs;
  let port: number | null = null;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const text = `${out.stderr()}\n${out.stdout()}`;
      if (UNAVAILABLE.test(text)) return { ok: false, unavailable: true, reason: (UNAVAILABLE.exec(text)?.[0] ?? 'not available').trim() };
      return { ok: false, unavailable: false, reason: `exited with ${child.exitCode ?? child.signalCode} before it was ready:\n${text.slice(-3000)}` };
    }
    const failed = out.lines.map(errorLine).find((l) => l !== null);
    if (failed !== undefined) {
      await stopChild(child);
      return { ok: false, unavailable: false, reason: `logged an error before it was ready: ${failed.slice(0, 1500)}` };
    }
    if (port === null) for (const line of out.lines) port ??= listeningPort(line);
    if (port !== null && (!spec.readyz || (await readyzOk(port)))) {
      const readySeconds = (performance.now() - started) / 1000;
      const pid = child.pid ?? -1;
      return { ok: true, target: { name: spec.name, url: `ws://127.0.0.1:${port}/`, pid, readySeconds, child, spec, stop: () => stopChild(child, 5000) } };
    }
    await new Promise((r) => setTimeout(r, port === null ? 50 : 250));
  }
  await stopChild(child);
  return { ok: false, unavailable: false, reason: `not ready within ${spec.readyTimeoutMs} ms:\n${out.stderr().slice(-2000)}${out.stdout().slice(-2000)}` };
}
