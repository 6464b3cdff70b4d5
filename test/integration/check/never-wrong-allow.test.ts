/**
 * The property callgate exists for, through the real server and real sockets, in both modes:
 * for random lists and random queries written in every accepted format, no listed number is ever
 * allowed and no valid unlisted number is ever blocked. A false-positive rate of 0.5 in half the runs
 * makes most unlisted numbers hit the Bloom filter, so exact confirmation is exercised too.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { formatNumber, SyntheticNumbers, type NumberStyle } from '../../../bench/synthetic-numbers.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import type { RunningService } from '../../../src/service.js';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { startEmbedded, writeList } from '../../helpers/service.js';

const STYLES: readonly NumberStyle[] = ['e164', 'e164-spaced', 'intl-digits', 'intl-00', 'national', 'national-spaced', 'national-dotted', 'national-dashed', 'no-zero'];
const numbers = new SyntheticNumbers(20261129);
const FRENCH = /^\+(33|262|590|594|596)/;

/** Every accepted way to write the number; a foreign number is accepted only with its country code. */
function write(e164: string, style: NumberStyle): string {
  return style === 'intl-digits' && !FRENCH.test(e164) ? formatNumber(e164, 'e164') : formatNumber(e164, style);
}

const scenario = fc.record({
  listed: fc.uniqueArray(fc.integer({ min: 0, max: 200_000 }), { minLength: 1, maxLength: 300 }),
  unlisted: fc.uniqueArray(fc.integer({ min: 200_001, max: 400_000 }), { minLength: 1, maxLength: 300 }),
  listStyles: fc.array(fc.constantFrom(...STYLES), { minLength: 1, maxLength: 9 }),
  queryStyles: fc.array(fc.constantFrom(...STYLES), { minLength: 1, maxLength: 9 }),
  fpRate: fc.constantFrom(0.001, 0.5),
  single: fc.boolean(),
});

type Start = (listPath: string, fpRate: number) => Promise<RunningService & { url: string }>;

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

async function checkScenario(start: Start, s: Scenario): Promise<void> {
  const listed = s.listed.map((i) => numbers.at(i));
  const unlisted = s.unlisted.map((i) => numbers.at(i));
  const lines = listed.map((e164, i) => write(e164, s.listStyles[i % s.listStyles.length] as NumberStyle));
  const svc = await start(writeList(['telephone', ...lines]), s.fpRate);
  const client = await CheckClient.connect(svc.url);
  try {
    const queries = [...listed.map((e) => ({ e164: e, listed: true })), ...unlisted.map((e) => ({ e164: e, listed: false }))];
    const written = queries.map((q, i) => write(q.e164, s.queryStyles[i % s.queryStyles.length] as NumberStyle));
    let results: { verdict: string; reason: string; number: string | null }[];
    if (s.single) {
      results = (await Promise.all(written.map((number) => client.request({ op: 'check', number })))) as unknown as typeof results;
    } else {
      const reply = await client.request({ op: 'check', numbers: written });
      results = reply['results'] as typeof results;
    }
    queries.forEach((q, i) => {
      const r = results[i];
      const expected = q.listed ? { verdict: 'block', reason: 'deny', number: q.e164 } : { verdict: 'allow', reason: 'not_listed', number: q.e164 };
      expect({ written: written[i], ...r }).toMatchObject({ written: written[i], ...expected });
    });
  } finally {
    await client.close();
    await svc.stop();
  }
}

describe('never a wrong allow, never a wrong block (property)', () => {
  it('embedded mode', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, (s) => checkScenario((path, fp) => startEmbedded(['--list', `deny=${path}`, '--false-positive-rate', String(fp)]), s)),
      { numRuns: 100 },
    );
    // 100 services started and stopped (each loads its list in a worker thread): about 50 s alone on
    // two cores, more beside other test files; the property, not the clock, is under test.
  }, 480_000);

  describe('Redis mode', () => {
    // One prefix per run: each run's list is a new list, not a refresh of the previous run's
    // (which the shrink guard would rightly refuse).
    const prefixes: string[] = [];
    afterAll(async () => {
      for (const p of prefixes) await deletePrefix(SHARED_REDIS_URL, p);
    });

    it('Redis mode, against the real shared Redis', async () => {
      await fc.assert(
        fc.asyncProperty(scenario, (s) =>
          checkScenario((path, fp) => {
            const prefix = uniquePrefix('cgtest-prop');
            prefixes.push(prefix);
            return startRedisMode(SHARED_REDIS_URL, prefix, ['--list', `deny=${path}`, '--false-positive-rate', String(fp)]);
          }, s),
        ),
        { numRuns: 40 },
      );
      // Each run loads a list into Redis and starts a service: ~2 s each on an idle machine, many
      // times that beside other test files on two busy cores; the property, not the clock, is under test.
    }, 480_000);
  });
});
