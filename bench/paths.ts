/**
 * Where the bench runs from: the repository root, the working folder of every child it starts (scripts and
 * bin/ are named relative to it), and how a TypeScript script is started (node --import tsx).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const NODE = process.execPath;
export const TSX: readonly string[] = ['--import', 'tsx'];
