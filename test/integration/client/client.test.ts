/**
 * The fail-closed client (src/client/) against the real server: the built CLI spawned on a real port.
 * Pipelining, batches, outcomes and the in-flight bound; a hung gate (the server process SIGSTOPped,
 * then SIGCONTed) answers block/gate_unavailable within the timeout; the gate killed and restarted on
 * the same port mid-traffic never yields an allow for a listed number nor a throw, and the client
 * reconnects and answers again. Run `npm run build` first (spawn-cli.ts runs dist/).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CallgateClient, type CallOutcome, type CheckAnswer } from '../../../src/client/index.js';
import { rejectionCodeOf } from '../../helpers/errors.js';
import { tempDir, writeList } from '../../helpers/service.js';
import { spawnServe, waitFor, type SpawnedServer } from '../../helpers/spawn-cli.js';

const LISTED = Array.from({ length: 10 }, (_, i) => `06123456${String(i).padStart(2, '0')}`);
const UNLISTED = Array.from({ length: 10 }, (_, i) => `06987654${String(i).padStart(2, '0')}`);

const listPath = writeList(LISTED, 'dnc.txt', tempDir());
const clients: CallgateClient[] = [];
const servers: SpawnedServer[] = [];

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const s of servers) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill('SIGCONT');
      s.child.kill('SIGKILL');
    }
  }
});

async function serve(port = 0): Promise<SpawnedServer> {
  const server = await spawnServe(['--list', `dnc=${listPath}`, ...(port === 0 ? [] : ['--port', String(port)])]);
  servers.push(server);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${server.port}/readyz`)).status === 200, 'the gate to be ready', 30_000);
  return server;
}

function client(port: number, options: Omit<ConstructorParameters<typeof CallgateClient>[0], 'url'> = {}): CallgateClient {
  const c = new CallgateClient({ url: `ws://127.0.0.1:${port}/`, ...options });
  clients.push(c);
  return c;
}

/** A listed number may only ever be blocked; a verdict is the gate's or the client's gate_unavailable. */
function assertSafe(input: string, a: CheckAnswer): void {
  expect(a.verdict === 'allow' || a.verdict === 'block', JSON.stringify(a)).toBe(true);
  if (LISTED.includes(input)) expect(a.verdict, `${input}: ${JSON.stringify(a)}`).toBe('block');
  if (a.error !== undefined) expect(a).toMatchObject({ verdict: 'block', reason: 'gate_unavailable' });
  else expect(['dnc', 'not_listed', 'not_ready']).toContain(a.reason);
}

function exited(s: SpawnedServer): boolean {
  return s.child.exitCode !== null || s.child.signalCode !== null;
}

describe('the client against a running gate', { timeout: 120_000 }, () => {
  it('pipelines checks under its in-flight bound, batches, records outcomes and refuses bad input locally', async () => {
    const server = await serve();
    const c = client(server.port, { maxInFlight: 16, timeoutMs: 20_000 });
    await c.connected();

    const inputs = Array.from({ length: 2000 }, (_, i) => (i % 3 === 0 ? LISTED[i % 10] : UNLISTED[i % 10]) as string);
    const answers = inputs.map((n) => c.check(n));
    // Queued, not all on the wire: the bound holds while they are answered.
    expect(c.stats.inFlight).toBeLessThanOrEqual(16);
    expect(c.stats.pending).toBe(2000);
    const settled = await Promise.all(answers);
    settled.forEach((a, i) => {
      const input = inputs[i] as string;
      expect(a.error).toBeUndefined();
      if (LISTED.includes(input)) expect(a).toMatchObject({ verdict: 'block', reason: 'dnc', number: `+33${input.slice(1)}` });
      else expect(a).toMatchObject({ verdict: 'allow', reason: 'not_listed', number: `+33${input.slice(1)}` });
    });
    expect(c.stats).toMatchObject({ inFlight: 0, pending: 0, timeouts: 0, unavailable: 0 });

    const batch = await c.batch([LISTED[0] as string, UNLISTED[0] as string, 'nope']);
    expect(batch).toEqual([
      { number: `+33${(LISTED[0] as string).slice(1)}`, verdict: 'block', reason: 'dnc' },
      { number: `+33${(UNLISTED[0] as string).slice(1)}`, verdict: 'allow', reason: 'not_listed' },
      { number: null, verdict: 'block', reason: 'invalid_number' },
    ]);

    expect(await c.outcome(UNLISTED[1] as string, 'no_answer')).toEqual({ ok: true, number: `+33${(UNLISTED[1] as string).slice(1)}`, outcome: 'no_answer' });

    // A JavaScript caller's unknown disposition: refused locally, never a malformed frame.
    expect(await c.outcome(UNLISTED[1] as string, 'hung_up' as CallOutcome)).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    // Too long for the protocol: refused by the client, the connection untouched.
    expect(await c.check('0'.repeat(65))).toMatchObject({ verdict: 'block', reason: 'bad_request', error: { code: 'bad_request' } });
    // Refused by the gate (a control character in the campaign): its bad_request becomes a block.
    expect(await c.check(UNLISTED[2] as string, { campaign: 'a\tb' })).toMatchObject({ verdict: 'block', reason: 'bad_request', error: { code: 'bad_request' } });
    expect(await c.check(UNLISTED[2] as string)).toMatchObject({ verdict: 'allow' });
    expect(c.state).toBe('open');
  });

  it('beyond maxPending a check answers block/gate_unavailable at once; the rest are real verdicts', async () => {
    const server = await serve();
    const c = client(server.port, { maxInFlight: 8, maxPending: 100, timeoutMs: 20_000 });
    await c.connected();
    const inputs = Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? LISTED[i % 10] : UNLISTED[i % 10]) as string);
    const answers = inputs.map((n) => c.check(n));
    expect(c.stats.pending).toBe(100);
    const settled = await Promise.all(answers);
    settled.forEach((a, i) => assertSafe(inputs[i] as string, a));
    expect(settled.slice(0, 100).every((a) => a.error === undefined)).toBe(true);
    expect(settled.slice(100).every((a) => a.reason === 'gate_unavailable')).toBe(true);
  });
});

describe('a hung gate (SIGSTOP)', { timeout: 120_000 }, () => {
  it('answers block/gate_unavailable within the timeout, drops the silent connection, and answers again after SIGCONT', async () => {
    const server = await serve();
    const timeoutMs = 400;
    // The ping (1 s) drops the silent connection only after the checks' own timeout (0.4 s) answered them.
    const c = client(server.port, { timeoutMs, pingIntervalMs: 1000, connectTimeoutMs: 500, backoff: { initialMs: 50, maxMs: 200 } });
    const thrower = client(server.port, { timeoutMs, throwOnUnavailable: true });
    await Promise.all([c.connected(), thrower.connected()]);
    expect(await c.check(LISTED[0] as string)).toMatchObject({ verdict: 'block', reason: 'dnc' });

    expect(server.child.kill('SIGSTOP')).toBe(true);
    try {
      const started = performance.now();
      const inputs = [...LISTED, ...UNLISTED];
      const answers = await Promise.all(inputs.map((n) => c.check(n)));
      const elapsed = performance.now() - started;
      answers.forEach((a, i) => {
        assertSafe(inputs[i] as string, a);
        expect(a).toMatchObject({ verdict: 'block', reason: 'gate_unavailable', error: { code: 'gate_unavailable' } });
      });
      // Within the timeout (plus scheduling slack on a busy machine), never before it.
      expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 5);
      expect(elapsed).toBeLessThan(timeoutMs + 2000);
      expect(await rejectionCodeOf(thrower.check(UNLISTED[0] as string))).toBe('CALLGATE_ERR_GATE_UNAVAILABLE');

      // The ping finds the connection silent: dropped, and every later attempt fails its handshake.
      await waitFor(() => c.state !== 'open', 'the silent connection to be dropped', 10_000);
      const whileHung = await c.check(UNLISTED[3] as string);
      expect(whileHung).toMatchObject({ verdict: 'block', reason: 'gate_unavailable' });
    } finally {
      server.child.kill('SIGCONT');
    }
    // Back: the client reconnects by itself and answers real verdicts again.
    await waitFor(async () => (await c.check(UNLISTED[4] as string)).reason === 'not_listed', 'a real verdict after SIGCONT', 20_000);
    expect(await c.check(LISTED[4] as string)).toMatchObject({ verdict: 'block', reason: 'dnc' });
    expect(c.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(c.stats.timeouts).toBeGreaterThanOrEqual(LISTED.length + UNLISTED.length);
  });
});

describe('the gate killed and restarted on the same port mid-traffic', { timeout: 180_000 }, () => {
  it('never answers allow for a listed number, never throws, and reconnects', async () => {
    const first = await serve();
    const port = first.port;
    const c = client(port, { timeoutMs: 1000, backoff: { initialMs: 50, maxMs: 500 } });
    await c.connected();

    const seen: { input: string; answer: CheckAnswer }[] = [];
    let stop = false;
    let k = 0;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const input = (k % 4 === 0 ? LISTED[k % 10] : UNLISTED[k % 10]) as string;
        k++;
        // A throw here fails the test: the client must never reject without throwOnUnavailable.
        const answer = await c.check(input);
        seen.push({ input, answer });
        // While the gate is down answers come at once: pause as a dialer would, so this loop does not
        // take the CPU the restarting gate needs (and timers and sockets get to run).
        if (answer.error !== undefined) await new Promise((r) => setTimeout(r, 5));
      }
    };
    const workers = Array.from({ length: 32 }, () => worker());

    await waitFor(() => seen.filter((s) => s.answer.error === undefined).length > 500, 'traffic before the kill', 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    await waitFor(() => seen.some((s) => s.answer.reason === 'gate_unavailable'), 'the loss to be answered gate_unavailable', 10_000);
    const beforeRestart = seen.length;

    const second = await serve(port);
    expect(second.port).toBe(port);
    await waitFor(() => seen.slice(beforeRestart).filter((s) => s.answer.error === undefined && s.answer.reason !== 'not_ready').length > 500, 'real verdicts after the restart', 30_000);
    stop = true;
    await Promise.all(workers);

    for (const { input, answer } of seen) assertSafe(input, answer);
    const after = seen.slice(beforeRestart).filter((s) => s.answer.error === undefined);
    expect(after.some((s) => s.answer.verdict === 'allow')).toBe(true);
    expect(after.some((s) => s.answer.reason === 'dnc')).toBe(true);
    expect(c.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(exited(first)).toBe(true);
  });
});

describe('no gate at all', () => {
  it('answers gate_unavailable at once, and connected() rejects with CALLGATE_ERR_UNREACHABLE', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const c = client(1, { backoff: { initialMs: 1000, maxMs: 1000 } });
    const first = c.check(LISTED[0] as string);
    expect(await rejectionCodeOf(c.connected())).toBe('CALLGATE_ERR_UNREACHABLE');
    expect(await first).toMatchObject({ verdict: 'block', reason: 'gate_unavailable' });
    expect(await c.check(UNLISTED[0] as string)).toMatchObject({ verdict: 'block', reason: 'gate_unavailable' });
    expect(await c.batch([UNLISTED[0] as string, LISTED[0] as string])).toEqual([
      expect.objectContaining({ verdict: 'block', reason: 'gate_unavailable' }),
      expect.objectContaining({ verdict: 'block', reason: 'gate_unavailable' }),
    ]);
    expect(await c.outcome(UNLISTED[0] as string, 'refused')).toMatchObject({ ok: false, error: { code: 'gate_unavailable' } });
    await c.close();
    expect(await c.check(UNLISTED[0] as string)).toMatchObject({ verdict: 'block', reason: 'gate_unavailable' });
  });
});
