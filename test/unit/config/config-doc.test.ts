/**
 * docs/configuration.md is generated from the OPTIONS table (scripts/gen-config-doc.ts). This test renders it
 * in memory and fails when the committed file differs, so an option added, renamed or re-defaulted without
 * `npm run docs` cannot ship with stale documentation; and it checks that every option has its row.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOC_PATH, renderConfigDoc } from '../../../scripts/gen-config-doc.js';
import { OPTIONS } from '../../../src/config/options.js';

const committed = readFileSync(new URL(`../../../${CONFIG_DOC_PATH}`, import.meta.url), 'utf8');

describe('docs/configuration.md', () => {
  it('is what scripts/gen-config-doc.ts renders from the OPTIONS table (run `npm run docs` if not)', () => {
    expect(committed).toBe(renderConfigDoc());
  });

  it('says it is generated and names the command that regenerates it', () => {
    expect(committed).toContain('Generated — do not edit; run `npm run docs`');
  });

  it('has one row per option, with its flag, variable, file key and default', () => {
    for (const def of OPTIONS) {
      const row = committed.split('\n').find((line) => line.startsWith(`| \`--${def.flag}`) && line.includes(`\`${def.env}\``));
      expect(row, `--${def.flag}`).toBeDefined();
      expect(row).toContain(`\`${def.key}\``);
      expect(row).toContain(def.default === null ? '| – |' : `\`${String(def.default)}\``);
    }
  });

  it('follows the table when it changes (a stale file is detected)', () => {
    const changed = OPTIONS.map((d) => (d.key === 'port' ? { ...d, default: 9090 } : d));
    expect(renderConfigDoc(changed)).not.toBe(committed);
  });
});
