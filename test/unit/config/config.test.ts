import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLoadConfig, parseServeConfig } from '../../../src/config/config.js';
import { ErrorCode } from '../../../src/core/errors.js';
import { tempDir } from '../../helpers/service.js';
import { codeOf } from '../../helpers/errors.js';
import { writeConfig } from '../../helpers/config-file.js';


describe('serve configuration', () => {
  it('refuses to start with no list', () => {
    expect(codeOf(() => parseServeConfig([], {}))).toBe(ErrorCode.NO_LISTS);
  });

  it('reads --list as a deny-list, with loopback and 8080 by default', () => {
    const c = parseServeConfig(['--list', 'bloctel=/x.txt'], {});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, redis: null, lists: [{ name: 'bloctel', kind: 'deny', source: '/x.txt', falsePositiveRate: 0.001 }] });
    expect(c.lists[0]?.refresh).toEqual({ cron: '30 2 * * *', timezone: 'Europe/Paris', maxAgeDays: 30, warnDays: 5, maxShrinkRatio: 0.2, maxBadLineRatio: 0.01, settleMs: 10_000, maxListBytes: 2 * 1024 ** 3, maxLineChars: 4096, pacing: { enabled: true, worker: false, targetRatio: 1.5, targetUs: null, maxPauseMs: 20, maxSlowdown: 3 } });
  });

  it('validates list names', () => {
    expect(codeOf(() => parseServeConfig(['--list', 'Bloctel=/x'], {}))).toBe(ErrorCode.LIST_NAME);
    expect(codeOf(() => parseServeConfig(['--list', '1a=/x'], {}))).toBe(ErrorCode.LIST_NAME);
    expect(codeOf(() => parseServeConfig(['--list', 'not_listed=/x'], {}))).toBe(ErrorCode.LIST_NAME);
    expect(codeOf(() => parseServeConfig(['--list', 'unconfirmed=/x'], {}))).toBe(ErrorCode.LIST_NAME);
    expect(codeOf(() => parseServeConfig(['--list', 'a=/x', '--list', 'a=/y'], {}))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => parseServeConfig(['--list', 'nopath'], {}))).toBe(ErrorCode.CONFIG);
  });

  it('reads CALLGATE_* variables only, flags first', () => {
    const env = { CALLGATE_PORT: '9000', CALLGATE_LISTS: 'a=/a.txt,b=/b.txt', REDIS_URL: 'redis://127.0.0.1:6379', PORT: '1' };
    const c = parseServeConfig([], env);
    expect(c.port).toBe(9000);
    expect(c.redis).toBeNull();
    expect(c.lists.map((l) => l.name)).toEqual(['a', 'b']);
    expect(parseServeConfig(['--port', '9001'], env).port).toBe(9001);
    expect(codeOf(() => parseServeConfig(['--port', 'x'], env))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => parseServeConfig(['--port', '70000'], env))).toBe(ErrorCode.CONFIG);
  });

  it('reads a JSON config file with relative sources', () => {
    const dir = tempDir();
    const file = writeConfig(dir, {
      port: 9100,
      maxAgeDays: 31,
      lists: [
        { name: 'bloctel', kind: 'deny', source: 'lists/bloctel.csv', cron: '0 3 * * *' },
        { name: 'consents', kind: 'allow', source: '/abs.csv', falsePositiveRate: 0.01, maxShrinkRatio: 0.5 },
        { name: 'internal', kind: 'deny' },
      ],
    });
    const c = parseServeConfig(['--config', file], {});
    expect(c.port).toBe(9100);
    expect(c.lists).toMatchObject([
      { name: 'bloctel', kind: 'deny', source: join(dir, 'lists/bloctel.csv'), falsePositiveRate: 0.001, refresh: { cron: '0 3 * * *', maxAgeDays: 31, maxShrinkRatio: 0.2 } },
      { name: 'consents', kind: 'allow', source: '/abs.csv', falsePositiveRate: 0.01, refresh: { cron: '30 2 * * *', maxShrinkRatio: 0.5 } },
      { name: 'internal', kind: 'deny', source: null },
    ]);
    writeFileSync(file, JSON.stringify({ lists: [{ name: 'x', kind: 'maybe', source: 'a' }] }));
    expect(codeOf(() => parseServeConfig(['--config', file], {}))).toBe(ErrorCode.CONFIG);
    writeFileSync(file, JSON.stringify({ prot: 1, lists: [] }));
    expect(codeOf(() => parseServeConfig(['--config', file], {}))).toBe(ErrorCode.CONFIG);
    writeFileSync(file, '{');
    expect(codeOf(() => parseServeConfig(['--config', file], {}))).toBe(ErrorCode.CONFIG);
  });

  it('enables Redis mode from CALLGATE_REDIS_URL and validates it', () => {
    const c = parseServeConfig(['--list', 'a=/a'], { CALLGATE_REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(c.redis).toMatchObject({ url: 'redis://127.0.0.1:6379', prefix: 'callgate:', confirmTimeoutMs: 50, allowEviction: false });
    expect(codeOf(() => parseServeConfig(['--list', 'a=/a', '--redis', 'http://x'], {}))).toBe(ErrorCode.CONFIG);
    // Redis mode may start with no list file: it serves the lists current in Redis.
    expect(parseServeConfig(['--redis', 'redis://h:1'], {}).lists).toEqual([]);
  });
});

describe('audit and unconfirmed-rate options', () => {
  it('refuses the audit trail off while a policy in use needs the audit record of its allows', () => {
    const redis = { CALLGATE_REDIS_URL: 'redis://127.0.0.1:6379' };
    expect(codeOf(() => parseServeConfig(['--list', 'a=/a', '--default-policy', 'fr-optout', '--audit-dir', 'off'], redis))).toBe(ErrorCode.CONFIG);
    expect(parseServeConfig(['--list', 'a=/a', '--audit-dir', 'off'], redis).auditDir).toBeNull();
    const file = join(tempDir(), 'callgate.json');
    writeFileSync(file, JSON.stringify({ lists: [{ name: 'a', kind: 'deny', source: '/a' }], policies: { lax: { base: 'fr-optout', allowNeedsAudit: false } }, defaultPolicy: 'lax', auditDir: 'off' }));
    expect(parseServeConfig(['--config', file], redis).rules.defaultPolicy.allowNeedsAudit).toBe(false);
  });

  it('has documented defaults and validates them', () => {
    const c = parseServeConfig(['--list', 'a=/a'], {});
    expect(c).toMatchObject({ auditMaxPendingBytes: 16 * 1024 * 1024, unconfirmedAlertRatio: 0.01, unconfirmedAlertWindowMs: 300_000, unconfirmedAlertMinCount: 10 });
    expect(codeOf(() => parseServeConfig(['--list', 'a=/a', '--unconfirmed-alert-ratio', '2'], {}))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => parseServeConfig(['--list', 'a=/a', '--unconfirmed-alert-window-ms', '1000'], {}))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => parseServeConfig(['--list', 'a=/a', '--audit-max-pending-bytes', '10'], {}))).toBe(ErrorCode.CONFIG);
  });

  it('refuses a confirmation timeout past what a timer holds (redis/deadlines.ts would re-arm a 1 ms timer until then)', () => {
    // setTimeout clamps a delay over 2^31-1 ms to 1 ms; the shared deadline timer never fires early, so it re-arms
    // every ms (a TimeoutOverflowWarning each time) and a confirmation Redis never answers is never timed out.
    const redis = ['--list', 'a=/a', '--redis', 'redis://127.0.0.1:6379'];
    expect(parseServeConfig([...redis, '--redis-confirm-timeout-ms', '10000'], {}).redis?.confirmTimeoutMs).toBe(10_000);
    expect(codeOf(() => parseServeConfig([...redis, '--redis-confirm-timeout-ms', '10001'], {}))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => parseServeConfig([...redis, '--redis-confirm-timeout-ms', String(2 ** 33)], {}))).toBe(ErrorCode.CONFIG);
  });
});

describe('start-up traps in the configuration (#12 item 5)', () => {
  it('checks every schedule before anything is loaded', () => {
    expect(codeOf(() => parseServeConfig(['--list', 'a=/a', '--refresh-cron', '61 2 * * *'], {}))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => parseServeConfig(['--list', 'a=/a', '--refresh-timezone', 'Mars/Olympus'], {}))).toBe(ErrorCode.CONFIG);
    const file = join(tempDir(), 'c.json');
    writeFileSync(file, JSON.stringify({ lists: [{ name: 'a', source: '/a', cron: 'every night' }] }));
    expect(codeOf(() => parseServeConfig(['--config', file], {}))).toBe(ErrorCode.CONFIG);
  });

  it('reads the retry backoff and the unknown-campaign choice', () => {
    const c = parseServeConfig(['--list', 'a=/a'], {});
    expect(c.loadRetry).toEqual({ minMs: 30_000, maxMs: 900_000 });
    expect(c.rules.unknownCampaign).toBe('block');
    expect(parseServeConfig(['--list', 'a=/a', '--unknown-campaign', 'default'], {}).rules.unknownCampaign).toBe('default');
    expect(codeOf(() => parseServeConfig(['--list', 'a=/a', '--unknown-campaign', 'allow'], {}))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => parseServeConfig(['--list', 'a=/a', '--load-retry-min-ms', '5000', '--load-retry-max-ms', '1000'], {}))).toBe(ErrorCode.CONFIG);
  });

  it('lets `load` state the kind of NAME=PATH lists', () => {
    const env = { CALLGATE_REDIS_URL: 'redis://h:1' };
    expect(parseLoadConfig(['a=/a'], env).lists[0]).toMatchObject({ kind: 'deny', role: null });
    expect(parseLoadConfig(['--kind', 'allow', 'a=/a'], env).lists[0]).toMatchObject({ kind: 'allow', role: 'consent' });
    expect(parseLoadConfig(['--kind', 'allow', '--role', 'contract', 'a=/a'], env).lists[0]).toMatchObject({ kind: 'allow', role: 'contract' });
    expect(codeOf(() => parseLoadConfig(['--kind', 'consent', 'a=/a'], env))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => parseLoadConfig(['--role', 'consent', 'a=/a'], env))).toBe(ErrorCode.CONFIG);
  });
});
