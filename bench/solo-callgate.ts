/**
 * One scenario alone (bench/client-overhead.ts, bench/http-overhead.ts): one callgate embedded on the cached
 * synthetic list, started as bench/run.ts starts its `callgate` target (production defaults, audit trail and
 * journal on, their files in a scratch folder removed at the end).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopAll } from './children.js';
import { ensureBenchList } from './list-cache.js';
import { NODE } from './paths.js';
import { callgateServeArgs, mustStart, type RunningTarget } from './targets.js';

/** The flags both take (their own defaults of rounds and window): the list's size and seed, rounds, the window. */
export function soloOptions(defaults: { readonly rounds: number; readonly measureMs: number; readonly warmupMs: number }) {
  return {
    size: { type: 'string', default: '200000' },
    seed: { type: 'string', default: '1' },
    rounds: { type: 'string', default: String(defaults.rounds) },
    'measure-ms': { type: 'string', default: String(defaults.measureMs) },
    'warmup-ms': { type: 'string', default: String(defaults.warmupMs) },
  } as const;
}

export interface SoloCallgate {
  readonly target: RunningTarget;
  /** Stops every child of this process (callgate included) and removes the scratch folder. */
  close(): Promise<void>;
}

export async function startSoloCallgate(size: number, seed: number, scratchPrefix: string): Promise<SoloCallgate> {
  const list = await ensureBenchList(size, seed);
  const scratch = mkdtempSync(join(tmpdir(), scratchPrefix));
  const close = async (): Promise<void> => {
    await stopAll();
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    const target = await mustStart({ name: 'callgate', command: NODE, args: callgateServeArgs(list.path, scratch), readyz: true, readyTimeoutMs: 120_000 });
    return { target, close };
  } catch (err) {
    await close();
    throw err;
  }
}
