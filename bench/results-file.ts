/**
 * A run's result file (bench/results/*.json, read by `--compare` and by people): pretty JSON, its folder made
 * on the way, and the machine it was measured on.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem, type as osType } from 'node:os';
import { dirname } from 'node:path';

export function writeResultFile(path: string, result: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
}

export interface Machine {
  readonly cpus: number;
  readonly model: string;
  readonly memoryMb: number;
  readonly node: string;
  readonly os: string;
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpus: c.length,
    model: c[0]?.model ?? 'unknown',
    memoryMb: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    os: `${osType()} ${release()}`,
  };
}
