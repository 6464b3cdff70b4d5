/**
 * GET /v1/why's door (admin/why-route.ts) in process: who may ask (the admin token; loopback only without one),
 * the input checked and never echoed, no answer without its audit record, and a log line without the number.
 */
import { writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { whyRoutes } from '../../../src/admin/why-route.js';
import type { AuditEvent } from '../../../src/audit/record.js';
import { emptyState } from '../../../src/backends/embedded.js';
import { Checker } from '../../../src/check/deny-lists.js';
import type { AuditSink } from '../../../src/check/request-handler.js';
import { parseServeConfig } from '../../../src/config/config.js';
import { createLogger } from '../../../src/core/logger.js';
import { ListRegistry } from '../../../src/lists/registry.js';
import { MemoryRulesFacts } from '../../../src/rules/facts.js';
import { RulesChecker } from '../../../src/rules/rules-check.js';
import { EmbeddedOutcomes } from '../../../src/backends/list-backend.js';
import { e164ToKey } from '../../../src/numbers/number-key.js';
import { HttpError, type HttpReply } from '../../../src/server/http-server.js';
import { tempDir } from '../../helpers/service.js';

function req(remoteAddress: string, authorization?: string): IncomingMessage {
  return { socket: { remoteAddress }, headers: authorization === undefined ? {} : { authorization } } as unknown as IncomingMessage;
}

function setup(adminToken: string | null, auditTakes = true) {
  const dir = tempDir('callgate-why-unit-');
  const path = join(dir, 'callgate.json');
  writeFileSync(path, JSON.stringify({ lists: [{ name: 'internal', kind: 'deny' }] }));
  const config = parseServeConfig(['--config', path, '--audit-dir', dir], {});
  const registry = new ListRegistry(config.lists);
  for (const s of config.lists) registry.install(emptyState(s, new Date()));
  registry.slot('internal')?.intraday.add(e164ToKey('+33612000050'), Date.now());
  const events: AuditEvent[] = [];
  const audit: AuditSink = { writable: true, write: (e) => (auditTakes ? (events.push(e), true) : false), writeJson: () => auditTakes, writeJsonOpen: () => auditTakes };
  const checker = new Checker(registry, null);
  const rulesChecker = new RulesChecker({ registry, facts: new MemoryRulesFacts(), foreignTimezone: 'Europe/Paris' });
  const handler = { registry, checker, rules: config.rules, rulesChecker, outcomes: new EmbeddedOutcomes(), stats: null, audit, batchSliceSize: 100 };
  let logged = '';
  const destination = new Writable({ write: (chunk: Buffer, _e, cb) => ((logged += chunk.toString()), cb()) });
  const logger = createLogger({ level: 'info', instanceId: 't', destination });
  const backend = { mode: 'embedded' as const, changesOf: () => Promise.resolve([{ list: 'internal', op: 'add' as const, at: Date.now(), who: 'alice' }]) };
  const route = whyRoutes({ why: { registry, backend, facts: new MemoryRulesFacts(), handler, now: Date.now }, adminToken, audit, logger }).get('GET /v1/why');
  if (route === undefined) throw new Error('no route');
  const ask = async (r: IncomingMessage, query: string): Promise<HttpReply | HttpError> => {
    try {
      return await route(r, new URL(`http://127.0.0.1/v1/why?${query}`));
    } catch (err) {
      if (err instanceof HttpError) return err;
      throw err;
    }
  };
  return { ask, events, log: () => logged };
}

describe('GET /v1/why', () => {
  it('with an admin token: 401 without it or with another; answered with it', async () => {
    const { ask } = setup('adm');
    expect(await ask(req('127.0.0.1'), 'number=0612000050')).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(await ask(req('127.0.0.1', 'Bearer check-token'), 'number=0612000050')).toMatchObject({ status: 401 });
    expect(await ask(req('10.0.0.7', 'Bearer adm'), 'number=0612000050')).toMatchObject({ status: 200 });
  });

  it('without an admin token: loopback only (403 from the network)', async () => {
    const { ask } = setup(null);
    expect(await ask(req('10.0.0.7'), 'number=0612000050')).toMatchObject({ status: 403, code: 'forbidden' });
    expect(await ask(req('127.0.0.1'), 'number=0612000050')).toMatchObject({ status: 200 });
  });

  it('refuses a missing, overlong or invalid number, and a bad who, without echoing the input', async () => {
    const { ask } = setup(null);
    for (const q of ['', 'number=', `number=${'1'.repeat(65)}`, 'number=12%2034', 'number=0612000050&who=a%0Ab']) {
      const r = await ask(req('127.0.0.1'), q);
      expect(r, q).toMatchObject({ status: 400, code: 'bad_request' });
      expect((r as HttpError).message).not.toContain('12 34');
    }
  });

  it('records the question (who, readings, verdicts) and logs it without the number', async () => {
    const { ask, events, log } = setup(null);
    const r = (await ask(req('127.0.0.1'), 'number=06%2012%2000%2000%2050&who=carol')) as HttpReply;
    expect(r.body).toMatchObject({ v: 1, readings: [{ number: '+33612000050', lists: [{ list: 'internal', holds: true, added: { who: 'alice' } }] }], verdicts: [{ campaign: null, verdict: 'block', reason: 'internal' }] });
    expect(events).toEqual([{ type: 'why', v: 1, at: expect.any(String), readings: ['+33612000050'], who: 'carol', verdicts: { '(default)': 'block:internal' } }]);
    expect(log()).toContain('"msg":"why"');
    expect(log()).not.toMatch(/612000050/);
  });

  it('answers nothing when the audit trail refuses the record (503 audit_unavailable)', async () => {
    const { ask } = setup(null, false);
    expect(await ask(req('127.0.0.1'), 'number=0612000050')).toMatchObject({ status: 503, code: 'audit_unavailable' });
  });
});
