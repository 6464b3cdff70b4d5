/**
 * Start-up and refresh traps that blocked a floor for a day (#12 item 5), embedded mode and the CLI:
 * a list refused at start-up is retried with backoff and /readyz says why; a stale or missing list
 * blocks only the checks that consult it; a misspelt campaign is refused, not given the default
 * policy; a bad cron or time zone stops the start before any list is read.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningService } from '../../../src/service.js';
import { CheckClient } from '../../helpers/raw-check-client.js';
import { startEmbedded, tempDir } from '../../helpers/service.js';
import { runCli, waitFor } from '../../helpers/spawn-cli.js';
import { readyz } from '../../helpers/endpoints.js';
import { DAY_MS } from '../../../src/core/time.js';
import { writeConsentConfig } from '../../helpers/list-files.js';

// Tuesday 1 December 2026, 11:00 in Paris: inside the calling hours (the injected clock of every rule).
const TUESDAY_11H = Date.parse('2026-12-01T10:00:00Z');

/** fr-optin without the rules that keep state per consumer (those need Redis). */
const EMBEDDED_OPTIN = { optin: { base: 'fr-optin', frequencyCap: null, refusalDays: null } };

/** 200 valid numbers (06 20 00 00 00 + i) plus the given extra lines. */
function numbers(count: number, extra: readonly string[] = []): string {
  return `${[...Array.from({ length: count }, (_, i) => `0${620_000_000 + i}`), ...extra].join('\n')}\n`;
}

function writeDated(path: string, text: string, mtimeMs: number): void {
  writeFileSync(path, text);
  utimesSync(path, mtimeMs / 1000, mtimeMs / 1000);
}

const running: RunningService[] = [];
const clients: CheckClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of running.splice(0)) await s.stop();
});

async function connect(url: string): Promise<CheckClient> {
  const c = await CheckClient.connect(url);
  clients.push(c);
  return c;
}

describe('a list refused at start-up', () => {
  it('is retried with backoff, alerts critically while not loaded, and /readyz says why per list', async () => {
    const dir = tempDir();
    const file = join(dir, 'bloctel.txt');
    // 10 bad lines in 210: far over the 1% guard, so the start-up load is refused.
    writeFileSync(file, numbers(200, Array.from({ length: 10 }, (_, i) => `not a number ${i}`)));
    const svc = await startEmbedded(['--list', `bloctel=${file}`, '--load-retry-min-ms', '50', '--load-retry-max-ms', '200']);
    running.push(svc);

    const before = await readyz(svc.port);
    expect(before.status).toBe(503);
    const reason = before.body.lists.find((l) => l.name === 'bloctel')?.reason;
    expect(reason).toMatchObject({ code: 'too_many_bad_lines', list: 'bloctel' });
    expect(typeof reason?.nextRetryAt).toBe('string');
    expect(before.body.reasons.map((r) => r.code)).toContain('too_many_bad_lines');
    const alert = before.body.alerts.find((a) => a.id === 'list_not_loaded:bloctel');
    expect(alert).toMatchObject({ kind: 'list_not_loaded', severity: 'critical' });

    // The producer fixes the file: the next retry loads it, without waiting for the night.
    writeFileSync(file, numbers(200));
    await waitFor(async () => (await readyz(svc.port)).status === 200, '/readyz 200 after the file was fixed');
    const after = await readyz(svc.port);
    expect(after.body.reasons).toEqual([]);
    expect(after.body.alerts.map((a) => a.id)).not.toContain('list_not_loaded:bloctel');
    const c = await connect(svc.url);
    expect(await c.request({ op: 'check', number: '0620000007' })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
  });
});

describe('staleness and readiness per consulted list', () => {
  it('a stale consent list blocks the opt-in campaign but not the deny-list checks that never read it', async () => {
    const dir = tempDir();
    const bloctel = join(dir, 'bloctel.txt');
    const consents = join(dir, 'consents.txt');
    writeDated(bloctel, numbers(200), TUESDAY_11H - DAY_MS);
    writeDated(consents, `${['0630000001', '0630000002'].join('\n')}\n`, TUESDAY_11H - 40 * DAY_MS);
    const config = writeConsentConfig(dir, { bloctel, consents }, { policies: EMBEDDED_OPTIN, campaigns: { winter: { policy: 'deny-lists' }, optin: { policy: 'optin' } } });
    const svc = await startEmbedded(['--config', config], {}, { now: () => TUESDAY_11H });
    running.push(svc);
    const c = await connect(svc.url);

    // Deny-list checks consult bloctel only, which is fresh.
    expect(await c.request({ op: 'check', number: '0640000000' })).toMatchObject({ verdict: 'allow', reason: 'not_listed' });
    expect(await c.request({ op: 'check', number: '0620000001', campaign: 'winter' })).toMatchObject({ verdict: 'block', reason: 'bloctel' });
    // The opt-in campaign reads the consent list: stale, it cannot say.
    expect(await c.request({ op: 'check', number: '0630000001', campaign: 'optin' })).toMatchObject({ verdict: 'block', reason: 'stale_list' });
    // /readyz says which list would make checks block.
    const r = await readyz(svc.port);
    expect(r.status).toBe(503);
    expect(r.body.reasons).toEqual([expect.objectContaining({ code: 'stale_list', list: 'consents' })]);
  });

  it('a consent list that is not loaded does not block deny-list checks', async () => {
    const dir = tempDir();
    const bloctel = join(dir, 'bloctel.txt');
    const consents = join(dir, 'consents.txt');
    writeFileSync(bloctel, numbers(200));
    writeFileSync(consents, numbers(10, Array.from({ length: 10 }, (_, i) => `bad ${i}`)));
    const config = writeConsentConfig(dir, { bloctel, consents }, { policies: EMBEDDED_OPTIN, campaigns: { optin: { policy: 'optin' } } });
    const svc = await startEmbedded(['--config', config], {}, { now: () => TUESDAY_11H });
    running.push(svc);
    const c = await connect(svc.url);
    expect(await c.request({ op: 'check', number: '0640000000' })).toMatchObject({ verdict: 'allow', reason: 'not_listed' });
    expect(await c.request({ op: 'check', numbers: ['0640000000', '0620000003'] })).toMatchObject({
      results: [expect.objectContaining({ verdict: 'allow' }), expect.objectContaining({ verdict: 'block', reason: 'bloctel' })],
    });
    expect(await c.request({ op: 'check', number: '0640000000', campaign: 'optin' })).toMatchObject({ verdict: 'block', reason: 'not_ready' });
    expect((await readyz(svc.port)).status).toBe(503);
  });
});

describe('a campaign that is not configured', () => {
  async function start(extra: readonly string[]): Promise<RunningService & { url: string }> {
    const dir = tempDir();
    const bloctel = join(dir, 'bloctel.txt');
    const consents = join(dir, 'consents.txt');
    writeFileSync(bloctel, numbers(200));
    writeFileSync(consents, '0630000001\n');
    const config = writeConsentConfig(dir, { bloctel, consents }, { policies: EMBEDDED_OPTIN, campaigns: { optin: { policy: 'optin' } } });
    const svc = await startEmbedded(['--config', config, ...extra], {}, { now: () => TUESDAY_11H });
    running.push(svc);
    return svc;
  }

  it('is refused (block / unknown_campaign), in checks and batches, and counted', async () => {
    const svc = await start([]);
    const c = await connect(svc.url);
    // The opt-in campaign, spelt right: no consent, no call.
    expect(await c.request({ op: 'check', number: '0640000000', campaign: 'optin' })).toMatchObject({ verdict: 'block', reason: 'no_consent' });
    // Misspelt: it used to fall back to the default policy (deny-lists) and allow a call without consent.
    expect(await c.request({ op: 'check', number: '0640000000', campaign: 'optim' })).toMatchObject({ verdict: 'block', reason: 'unknown_campaign', number: '+33640000000' });
    expect(await c.request({ op: 'check', numbers: ['0640000000', '0640000001'], campaign: 'optim' })).toMatchObject({
      results: [expect.objectContaining({ verdict: 'block', reason: 'unknown_campaign' }), expect.objectContaining({ verdict: 'block', reason: 'unknown_campaign' })],
    });
    // Without a campaign, the default policy as before.
    expect(await c.request({ op: 'check', number: '0640000000' })).toMatchObject({ verdict: 'allow', reason: 'not_listed' });
    const metrics = await (await fetch(`http://127.0.0.1:${svc.port}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('callgate_checks_total{') && l.includes('reason="unknown_campaign"') && l.includes('campaign="optim"'));
    expect(line?.split(' ').pop()).toBe('3');
  });

  it('gets the default policy again with --unknown-campaign default', async () => {
    const svc = await start(['--unknown-campaign', 'default']);
    const c = await connect(svc.url);
    expect(await c.request({ op: 'check', number: '0640000000', campaign: 'optim' })).toMatchObject({ verdict: 'allow', reason: 'not_listed' });
  });
});

describe('options checked before any list is read', () => {
  it('a bad cron exits 2 with a coded line, without loading the lists', async () => {
    const file = join(tempDir(), 'bloctel.txt');
    writeFileSync(file, numbers(200));
    const r = await runCli(['serve', '--port', '0', '--audit-dir', tempDir(), '--journal', join(tempDir(), 'j.jsonl'), '--list', `bloctel=${file}`, '--refresh-cron', '61 2 * * *']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[CALLGATE_ERR_CONFIG\]/);
    expect(r.stdout).not.toMatch(/"list refreshed"|"listening"/);
  });

  it('a bad time zone of one list exits 2 the same way', async () => {
    const dir = tempDir();
    const file = join(dir, 'bloctel.txt');
    writeFileSync(file, numbers(200));
    const config = join(dir, 'callgate.json');
    writeFileSync(config, JSON.stringify({ lists: [{ name: 'bloctel', source: file, timezone: 'Europe/Pariss' }] }));
    const r = await runCli(['serve', '--port', '0', '--audit-dir', tempDir(), '--journal', join(tempDir(), 'j.jsonl'), '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[CALLGATE_ERR_CONFIG\]/);
    expect(r.stdout).not.toMatch(/"list refreshed"|"listening"/);
  });
});
