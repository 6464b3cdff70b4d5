/**
 * Seeded fuzz over configuration, on the spawned CLI: `callgate serve` with a bad configuration (flags,
 * CALLGATE_* variables, a config file) exits 2 with one coded line on stderr, nothing on stdout, and
 * never a stack trace. 30 cases, a few processes at a time, so it stays fast on two cores.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseServeConfig } from '../../../src/config/config.js';
import { isCallgateError } from '../../../src/core/errors.js';
import { configCase, type ConfigCase } from '../../helpers/config-arbitraries.js';
import { tempDir, writeList } from '../../helpers/service.js';
import { runCli, type CliResult } from '../../helpers/spawn-cli.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20_261_203);
const RUNS = 30;
const AT_ONCE = 3;
const ONE_CODED_LINE = /^callgate: [^\n]+ \[CALLGATE_ERR_[A-Z_]+\]\n$/;

const dir = tempDir('callgate-config-fuzz-cli-');
const list = writeList(['0612345678'], 'bloctel.txt', dir);

function argvOf(c: ConfigCase, i: number): string[] {
  // Port 0 first: a fuzzed --port later on the line wins, as it would for a person.
  const base = ['--port', '0', ...c.argv, '--list', `fuzzed=${list}`];
  if (c.file === null) return base;
  const path = join(dir, `config-${i}.json`);
  writeFileSync(path, c.file);
  return [...base, '--config', path];
}

/** Only configurations the parser refuses: a good one would start a server. */
function refused(argv: readonly string[], env: Record<string, string>): boolean {
  try {
    parseServeConfig(argv, env);
    return false;
  } catch (err) {
    return isCallgateError(err);
  }
}

describe('callgate serve with a bad configuration (seeded fuzz, spawned)', () => {
  it(`exits 2 with one coded line, ${RUNS} cases`, { timeout: 600_000 }, async () => {
    const cases: { argv: string[]; env: Record<string, string> }[] = [];
    const samples = fc.sample(configCase, { seed: SEED, numRuns: RUNS * 10 });
    for (const c of samples) {
      if (cases.length === RUNS) break;
      const argv = argvOf(c, cases.length);
      if (refused(argv, c.env)) cases.push({ argv, env: c.env });
    }
    expect(cases).toHaveLength(RUNS);
    const results: CliResult[] = [];
    for (let i = 0; i < cases.length; i += AT_ONCE) {
      results.push(...(await Promise.all(cases.slice(i, i + AT_ONCE).map((c) => runCli(['serve', ...c.argv], c.env, 120_000)))));
    }
    results.forEach((r, i) => {
      const what = JSON.stringify(cases[i]);
      expect(r.code, what).toBe(2);
      expect(r.stderr, what).toMatch(ONE_CODED_LINE);
      expect(r.stderr, what).not.toMatch(/\n\s+at /);
      expect(r.stdout, what).toBe('');
    });
  });
});
