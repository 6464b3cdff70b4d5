/**
 * Every process the benchmark starts, so that none outlives it: on normal end, on error and on
 * SIGINT/SIGTERM each is signalled by its own pid (SIGTERM, then SIGKILL after a grace period).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const live = new Set<ChildProcess>();
let signalled = false;

/** True once SIGINT/SIGTERM arrived: children die on purpose, and their exits are not errors to print. */
export function stoppingOnSignal(): boolean {
  return signalled;
}

export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Stops one child: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (exited(child) || child.pid === undefined) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (!exited(child)) child.kill('SIGKILL');
  }, graceMs);
  await gone;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c)));
}

/** Last resort on process exit: synchronous, so only SIGKILL by pid. */
function killRemaining(): void {
  for (const c of live) if (!exited(c)) c.kill('SIGKILL');
}

export function installCleanup(): void {
  process.once('exit', killRemaining);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      signalled = true;
      process.stderr.write(`\nbench: ${sig}, stopping ${live.size} child process(es)\n`);
      stopAll().finally(() => process.exit(130));
    });
  }
}

/** Collects a child's stdout lines (JSON logs) and the tail of its stderr, for error messages. */
export function collectOutput(child: ChildProcess): { lines: string[]; stderr: () => string; stdout: () => string } {
  const lines: string[] = [];
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  let partial = '';
  child.stdout?.on('data', (chunk: string) => {
    out = (out + chunk).slice(-200_000);
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) if (lines.length < 10_000) lines.push(p);
  });
  child.stderr?.on('data', (chunk: string) => {
    err = (err + chunk).slice(-20_000);
  });
  return { lines, stderr: () => err, stdout: () => out };
}

/** Runs a child to completion and returns its stdout; rejects with its stderr on a non-zero exit. */
export function runToEnd(command: string, args: readonly string[], options: SpawnOptions = {}, echoStderr = true): Promise<string> {
  const child = spawnTracked(command, args, options);
  const out = collectOutput(child);
  if (echoStderr) child.stderr?.on('data', (chunk: string) => process.stderr.write(chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve(out.stdout());
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}: ${out.stderr().slice(-2000)}`));
    });
  });
}
