/**
 * The Lua loader (src/redis/scripts.ts): every script file is in the command table with its KEYS / ARGV /
 * returns header, includes and constants resolve once, and a broken install fails with a code.
 * What the scripts do is tested against Redis in test/integration/redis and test/integration/rules.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadScripts, scriptDigests } from '../../../src/redis/scripts.js';
import { CHANGE_FORMAT_FIELD, FORMAT_VERSION } from '../../../src/redis/codecs.js';
import { codeOf } from '../../helpers/errors.js';

const LUA_DIR = new URL('../../../src/redis/lua/', import.meta.url);

describe('Lua scripts', () => {
  const scripts = loadScripts();

  it('loads one command per script file, each opening with a purpose, KEYS, ARGV and returns header', () => {
    const files = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua'));
    expect(scripts).toHaveLength(files.length);
    for (const file of files) {
      const text = readFileSync(new URL(file, LUA_DIR), 'utf8');
      const header = /^--\[\[\n([\s\S]*?)\n\]\]\n/.exec(text)?.[1] ?? '';
      expect(header, file).toMatch(/^  KEYS\[/m);
      expect(header, file).toMatch(/^  Returns/m);
      expect(header, file).toMatch(/^  ARGV\[/m);
    }
    for (const file of readdirSync(new URL('lib/', LUA_DIR))) {
      expect(readFileSync(new URL(`lib/${file}`, LUA_DIR), 'utf8'), file).toMatch(/^--\[\[\n/);
    }
  });

  it('inlines each include once and fills the constants from TypeScript', () => {
    for (const { command, lua } of scripts) {
      expect(lua, command).not.toMatch(/@include|\{\{/);
      expect(lua.split('local function now_ms()').length, command).toBeLessThanOrEqual(2);
    }
    const decide = scripts.find((s) => s.command === 'cgDecide')?.lua ?? '';
    expect(decide).toContain('local function now_ms()');
    expect(decide).toContain('local function marker_present(marker)');
    const intraday = scripts.find((s) => s.command === 'cgIntraday')?.lua ?? '';
    expect(intraday).toContain(`'${CHANGE_FORMAT_FIELD}', '${FORMAT_VERSION}')`);
  });

  it('names each script by its sha1, as Redis does', () => {
    const digests = scriptDigests(scripts);
    expect(Object.keys(digests)).toHaveLength(scripts.length);
    for (const digest of Object.values(digests)) expect(digest).toMatch(/^[0-9a-f]{40}$/);
  });

  it('fails with CALLGATE_ERR_CONFIG when the scripts are missing (a broken install)', () => {
    expect(codeOf(() => loadScripts(new URL('./no-such-dir/', LUA_DIR)))).toBe('CALLGATE_ERR_CONFIG');
  });
});
