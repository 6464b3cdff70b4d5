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
