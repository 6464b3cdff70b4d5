/**
 * Writing a test's configuration file: `{dir}/callgate.json` from an object, its path returned — the file name and
 * the JSON encoding written once for every test that starts callgate with `--config`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeConfig(dir: string, config: object): string {
  const path = join(dir, 'callgate.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}
