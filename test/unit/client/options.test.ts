/**
 * The client's options are validated once, in the constructor, with a stable code: a dialer misconfigured
 * at start-up fails there, not on its first call.
 */
import { describe, expect, it } from 'vitest';
import { CallgateClient, Reason } from '../../../src/client/index.js';
import { validateListName } from '../../../src/config/list-spec.js';
import { codeOf } from '../../helpers/errors.js';

describe('CallgateClient options', () => {
  it('refuses a bad url or bound with CALLGATE_ERR_CONFIG, before connecting', () => {
    for (const options of [
      { url: 'http://127.0.0.1:8080/' },
      { url: 'ws://' },
      { url: '127.0.0.1:8080' },
      { url: 'ws://127.0.0.1:8080/', timeoutMs: 0 },
      { url: 'ws://127.0.0.1:8080/', timeoutMs: 1.5 },
      { url: 'ws://127.0.0.1:8080/', maxPending: -1 },
      { url: 'ws://127.0.0.1:8080/', maxInFlight: Number.NaN },
      { url: 'ws://127.0.0.1:8080/', backoff: { factor: 0.5 } },
      { url: 'ws://127.0.0.1:8080/', backoff: { initialMs: 0 } },
      { url: 'ws://127.0.0.1:8080/', pingIntervalMs: -1 },
    ]) {
      expect(codeOf(() => new CallgateClient(options)), JSON.stringify(options)).toBe('CALLGATE_ERR_CONFIG');
    }
  });
});

describe('gate_unavailable, the client\'s own reason word', () => {
  it('is a reserved reason: no list can be named so', () => {
    expect(Reason.GATE_UNAVAILABLE).toBe('gate_unavailable');
    expect(codeOf(() => validateListName('gate_unavailable'))).toBe('CALLGATE_ERR_LIST_NAME');
  });
});
