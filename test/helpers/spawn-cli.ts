import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

/** Every server spawned by a test file; whatever a failed test left running is killed after the file. */
const spawned = new Set<ChildProcess>();
afterAll(() => {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  spawned.clear();
});

export const CLI = fileURLToPath(new URL('../../bin/callgate.js', import.meta.url));

export interface SpawnedServer {
  readonly child: ChildProcess;
  readonly port: number;
  readonly logs: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
}

/**
 * Spawns the real CLI (`callgate serve …`) on port 0 and resolves once its `listening` log line
 * says which port it took. Only CALLGATE_* variables given here reach it (plus PATH/HOME).
 * `cli`: another entry (the pack test's installed `node_modules/.bin/callgate`); this checkout's by default.
 */
export function spawnServe(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 30_000, cli = CLI): Promise<SpawnedServer> {
  // Each process its own intraday journal, never the working directory's.
  const journal = args.includes('--journal') ? [] : ['--journal', join(mkdtempSync(join(tmpdir(), 'callgate-journal-')), 'journal.jsonl')];
  const audit = args.includes('--audit-dir') ? [] : ['--audit-dir', mkdtempSync(join(tmpdir(), 'callgate-audit-'))];
  // Test files are written a moment before they are read: no settle wait unless a test asks for one.
  const settle = args.includes('--list-settle-ms') ? [] : ['--list-settle-ms', '0'];
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', ...journal, ...audit, ...settle, ...args], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    void exited.then((code) => reject(new Error(`callgate exited (${code}) before listening; stderr: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry['msg'] === 'listening') {
        clearTimeout(timer);
        resolve({ child, port: entry['port'] as number, logs, exited });
      }
    });
  });
}

export async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 20_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== undefined && v !== false) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a short CLI command (`refresh`, `list add`, `load`…) to its end; never rejects on a non-zero exit. */
export function runCli(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 60_000, cli = CLI): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`callgate ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
