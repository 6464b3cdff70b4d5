/**
 * refresh/refresh.ts: a refresh requested while one of the same list runs is answered by a run that starts after
 * it (so it reads the source as it is then), shared by the requests of the same kind arriving meanwhile; a forced
 * request is never answered by an unforced run's outcome.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AlertRegistry } from '../../../src/supervision/alerts.js';
import type { BuildOutcome } from '../../../src/refresh/build-in-worker.js';
import type { BuildRequest } from '../../../src/refresh/build-worker.js';
import { buildGeneration } from '../../../src/lists/generation.js';
import { fetchList } from '../../../src/refresh/fetch.js';
import type { ListSpec } from '../../../src/config/list-spec.js';
import { ListRegistry } from '../../../src/lists/registry.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ListRefresher } from '../../../src/refresh/refresh.js';
import { DAY_MS } from '../../../src/core/time.js';
import { memorySink } from '../../helpers/memory-sink.js';
import { tempDir } from '../../helpers/service.js';


function writeDated(path: string, lines: readonly string[], ageMs: number): void {
  writeFileSync(path, `${lines.join('\n')}\n`);
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(path, t, t);
}

const numbers = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `06${String(10_000_000 + from + i)}`);

describe('a refresh requested while one runs', () => {
  it('is answered by a run that reads the source after the running one, shared with its kind', async () => {
    const path = join(tempDir(), 'list.txt');
    writeDated(path, numbers(100), DAY_MS);
    const spec: ListSpec = {
      name: 'l',
      kind: 'deny',
      role: null,
      source: path,
      falsePositiveRate: 0.001,
      refresh: { cron: '30 2 * * *', timezone: 'Europe/Paris', maxAgeDays: 30, warnDays: 5, maxShrinkRatio: 0.2, maxBadLineRatio: 0.01, settleMs: 0, maxListBytes: 1 << 20, maxLineChars: 256 },
    };
    let release: () => void = () => {};
    let builds = 0;
    const build = async (req: BuildRequest): Promise<BuildOutcome> => {
      const f = await fetchList(req.source, req.previous, req);
      if (builds++ === 0) await new Promise<void>((resolve) => (release = resolve));
      if (f.kind === 'unchanged') return f;
      return { kind: 'changed', validators: f.validators, sourceDate: f.sourceDate, fetchedAt: f.fetchedAt, read: f.read, built: buildGeneration(f.read.keys, req.falsePositiveRate) };
    };
    const refresher = new ListRefresher({ registry: new ListRegistry([spec]), alerts: new AlertRegistry({ logger: silentLogger() }), sink: memorySink, logger: silentLogger(), build });

    const first = refresher.refresh('l', { force: false, trigger: 'admin' });
    // The first run has read the file and is held.
    while (builds === 0) await new Promise((r) => setTimeout(r, 1));
    // The file changes while the first run holds what it read: 5% bad lines, refused unless forced.
    writeDated(path, [...numbers(100), ...Array.from({ length: 10 }, (_, k) => `junk-${k}`)], DAY_MS - 1000);
    const second = refresher.refresh('l', { force: false, trigger: 'admin' });
    const third = refresher.refresh('l', { force: false, trigger: 'schedule' });
    const forced = refresher.refresh('l', { force: true, trigger: 'admin' });
    expect(second).not.toBe(first);
    expect(third).toBe(second);
    expect(forced).not.toBe(second);
    release();
    expect(await first).toMatchObject({ status: 'loaded' });
    expect(await second).toMatchObject({ status: 'refused', code: 'too_many_bad_lines' });
    expect(await forced).toMatchObject({ status: 'loaded', overridden: ['too_many_bad_lines'] });
  });
});
