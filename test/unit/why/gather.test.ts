/**
 * why/gather.ts says 'unknown' where it cannot know, never a guess: a list with no generation loaded, Redis not
 * answering the facts, the record of changes not answering; and a why never asks for a dial.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyState } from '../../../src/backends/embedded.js';
import { EmbeddedOutcomes } from '../../../src/backends/list-backend.js';
import { Checker } from '../../../src/check/deny-lists.js';
import { parseServeConfig } from '../../../src/config/config.js';
import { ListRegistry } from '../../../src/lists/registry.js';
import { e164ToKey } from '../../../src/numbers/number-key.js';
import type { DecideFacts, FactsQuery, RulesFacts } from '../../../src/rules/facts.js';
import { RulesChecker } from '../../../src/rules/rules-check.js';
import { gatherWhy } from '../../../src/why/gather.js';
import { tempDir } from '../../helpers/service.js';

const N = '+33612000070';

/** Redis mode's facts when Redis does not answer: every membership unconfirmed. */
class Unanswered implements RulesFacts {
  readonly queries: FactsQuery[] = [];
  decide(q: FactsQuery): Promise<DecideFacts> {
    this.queries.push(q);
    return Promise.resolve({ memberships: q.hits.map(() => 'unconfirmed'), terms: q.hits.map(() => null), refusedUntil: null, refusedAt: null, attempts: 0, oldestAttemptAt: null, counted: false, now: q.now, answered: false });
  }
}

function setup() {
  const dir = tempDir('callgate-why-gather-');
  const path = join(dir, 'callgate.json');
  writeFileSync(path, JSON.stringify({ lists: [{ name: 'internal', kind: 'deny' }, { name: 'bloctel', kind: 'deny', source: join(dir, 'missing.txt') }, { name: 'consents', kind: 'allow', role: 'consent', source: join(dir, 'missing.csv') }] }));
  const config = parseServeConfig(['--config', path, '--audit-dir', dir], {});
  const registry = new ListRegistry(config.lists);
  // Only `internal` is loaded; bloctel and consents never loaded.
  registry.install(emptyState(config.lists[0] as (typeof config.lists)[number], new Date()));
  registry.slot('internal')?.intraday.add(e164ToKey(N), Date.now());
  const facts = new Unanswered();
  const handler = {
    registry,
    checker: new Checker(registry, null),
    rules: config.rules,
    rulesChecker: new RulesChecker({ registry, facts, foreignTimezone: 'Europe/Paris' }),
    outcomes: new EmbeddedOutcomes(),
    stats: null,
    audit: null,
    batchSliceSize: 100,
  };
  const backend = { mode: 'redis' as const, changesOf: () => Promise.reject(new Error('redis down')) };
  return { deps: { registry, backend, facts, handler, now: Date.now }, facts };
}

describe('gatherWhy when it cannot know', () => {
  it('marks unknown what Redis, the record of changes or a list not loaded cannot say, and never dials', async () => {
    const { deps, facts } = setup();
    const a = await gatherWhy(deps, '06 12 00 00 70');
    const r = a?.readings[0];
    expect(r?.lists.find((l) => l.list === 'internal')).toMatchObject({ holds: true, added: { who: 'unknown' }, file: { listed: false } });
    expect(r?.lists.find((l) => l.list === 'bloctel')).toMatchObject({ holds: 'unknown', file: null, added: null, removed: 'unknown' });
    expect(r?.lists.find((l) => l.list === 'consents')).toMatchObject({ holds: 'unknown', state: 'unknown', file: null });
    expect(r?.history).toEqual({ kept: true, answered: false });
    // The deny-lists are not all loaded: a check answers not_ready, and so does the why.
    expect(a?.verdicts).toEqual([{ campaign: null, policy: 'deny-lists', verdict: 'block', reason: 'not_ready' }]);
    expect(facts.queries.every((q) => !q.dial)).toBe(true);
    expect(await gatherWhy(deps, '12 34')).toBeNull();
  });
});
