/**
 * Build step after tsc: copies the files tsc does not emit (src/**\/*.lua, the Redis scripts) into dist/ at the
 * same relative paths, so that dist/redis/scripts.js finds dist/redis/lua/ as src/redis/scripts.ts finds
 * src/redis/lua/. Run by `npm run build`; stale copies of deleted scripts are removed first.
 */
import { cpSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');
const EXTENSIONS = ['.lua'];

rmSync(path.join(dist, 'redis', 'lua'), { recursive: true, force: true });
let copied = 0;
for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !EXTENSIONS.includes(path.extname(entry.name))) continue;
  const from = path.join(entry.parentPath, entry.name);
  const to = path.join(dist, path.relative(src, from));
  cpSync(from, to);
  copied++;
}
console.log(`copy-assets: ${copied} file(s) from src/ to dist/`);
