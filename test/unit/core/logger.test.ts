import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { duplicateKeys } from '../../helpers/json-keys.js';

describe('log lines', () => {
  it('never write a key twice when a call site repeats what its child logger is bound to', () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter((l) => l !== '')));
    const logger = createLogger({ level: 'info', instanceId: 'i-1', destination: out });
    const child = logger.child({ component: 'refresh' }).child({ list: 'bloctel', trigger: 'admin' });
    child.info({ list: 'bloctel', trigger: 'admin', status: 'loaded' }, 'list refreshed');
    child.warn({ list: 'other', instance: 'i-1' }, 'a different value is kept, not lost');
    child.info('no fields');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(duplicateKeys(l), l).toEqual([]);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ instance: 'i-1', component: 'refresh', list: 'bloctel', trigger: 'admin', status: 'loaded' });
    expect(JSON.parse(lines[1] as string)).toMatchObject({ list: 'bloctel', shadowed: { list: 'other' } });
    expect(duplicateKeys('{"a":1,"b":{"a":2},"a":3}')).toEqual(['a']);
  });
});
