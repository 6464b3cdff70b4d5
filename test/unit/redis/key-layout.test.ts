/**
 * The key-layout table in src/redis/keys.ts's header is complete: every key builder's output matches a row,
 * and a builder added without a row (or without a sample here) fails this test.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as keys from '../../../src/redis/keys.js';

const SAMPLE_ARGS: Readonly<Record<string, readonly (string | number)[]>> = {
  listsKey: [],
  pointerKey: ['bloctel'],
  gensKey: ['bloctel'],
  addedKey: ['bloctel'],
  revokedKey: ['consents'],
  changesKey: [],
  eventsChannel: [],
  sidecarKey: ['pod-1'],
  sidecarsKey: [],
  formatKey: [],
  evictionsAckKey: [],
  lockKey: ['refresh:bloctel'],
  refusedKey: [33612345678],
  attemptsKey: [33612345678],
  statsKey: [1_700_000_040_000, 'fleet'],
  statsSlotKey: [1_700_000_050_000, 'pod-1'],
  markerKey: ['bloctel', '0m1abcdef-0a1b2c3d'],
  filterKey: ['bloctel', '0m1abcdef-0a1b2c3d'],
  termsKey: ['consents', '0m1abcdef-0a1b2c3d'],
  bucketKey: ['bloctel', '0m1abcdef-0a1b2c3d', '33.17'],
  epochKey: [],
  waitKey: [],
};

/** The table's rows as regular expressions: {p} the prefix, an upper-case word any non-empty text. */
function tableRows(): RegExp[] {
  const source = readFileSync(new URL('../../../src/redis/keys.ts', import.meta.url), 'utf8');
  const header = source.slice(0, source.indexOf('*/'));
  return [...header.matchAll(/^ \* {3}(\{p\}\S+)\s+(?:STRING|HASH|SET|ZSET|STREAM|channel)\s/gm)].map(
    ([, row]) => new RegExp(`^${(row as string).replace('{p}', 'PREFIX:').replace(/[A-Z][A-Z0-9]*/g, (w) => (w === 'PREFIX' ? w : '.+'))}$`),
  );
}

describe('key layout table', () => {
  it('has a row for every key builder', () => {
    const rows = tableRows();
    expect(rows.length).toBeGreaterThanOrEqual(Object.keys(SAMPLE_ARGS).length);
    const builders = Object.entries(keys).filter(([name, fn]) => typeof fn === 'function' && /(Key|Channel)$/.test(name) && !name.startsWith('assert'));
    for (const [name, fn] of builders) {
      const args = SAMPLE_ARGS[name];
      expect(args, `a sample for ${name}`).toBeDefined();
      const key = (fn as (prefix: string, ...rest: ReadonlyArray<string | number>) => string)('PREFIX:', ...(args ?? []));
      expect(rows.some((row) => row.test(key)), `${name} → ${key} in the table`).toBe(true);
    }
  });
});
