/**
 * The SIP-level gate end to end (issue 14 item 3), every part real: callgate (the built CLI, embedded
 * mode, a check token), Kamailio running integrations/kamailio/kamailio.cfg on a free loopback UDP port,
 * SIPp as the dialer (one process per call) and SIPp as the carrier behind the proxy (sipp/uas.xml).
 * Real INVITEs over UDP (and over TCP on CG_LISTEN_TCP): a listed number gets 603 with the list in X-Callgate-Reason and never reaches
 * the carrier; an unlisted one is relayed and the call completes; the campaign comes from X-Campaign,
 * else callgate's default policy; a number carrying `&campaign=` cannot change the campaign; a wrong
 * token, a hung (SIGSTOP) and a dead (killed) callgate all fail closed with a 603 within the 1 s timeout.
 * A Kamailio with too little shared memory for its call rate answers 603 too, never a 5xx.
 * Last, the configuration's own guard: an HTTP server standing in for a broken callgate (the real one
 * never answers these) sends near-miss bodies and statuses, and every one fails closed. And a CANCEL: one that
 * comes while the check waits (the stand-in holds its answer) ends the call with a 487 and the INVITE is never
 * relayed, whatever the answer; one for a relayed INVITE reaches the carrier (dialer and carrier there are UDP
 * peers written here: SIPp cannot wait on the test before its CANCEL).
 * Kamailio or SIPp missing is a failure, not a skip (.ci/run installs them).
 */
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUac, startUas } from '../../../bench/sip-peer.js';
import { readyz } from '../../helpers/endpoints.js';
import { tempDir, writeList } from '../../helpers/service.js';
import { assertSipPartsInstalled, freeTcpPort, sipHeader, sippCall, startKamailio, startSippUas, type CallOptions, type RunningKamailio, type SippCall, type SippMessage, type SippUas } from '../../helpers/sip.js';
import { spawnServe, waitFor, type SpawnedServer } from '../../helpers/spawn-cli.js';

// A token with characters that must be percent-encoded in a query.
const TOKEN = 'k&m=1+2 x';
// Kamailio's check timeout (CG_TIMEOUT_S) and the slack allowed on a busy 2-core machine.
const TIMEOUT_S = 1;
const SLACK_MS = 2_500;
// How long a test waits for what the carrier or a log should show: generous (a loaded machine is slow),
// and under vitest's 60 s per test so that a failure names what it waited for.
const WAIT_MS = 30_000;

const LISTED = '0612000001';
const UNLISTED = '0612000099';
const CONSENTED = '0612000050';

/** callgate's configuration: a deny-list, a consent list, an opt-in policy by default, two campaigns. */
function writeConfig(dir: string): string {
  const file = join(dir, 'callgate.json');
  writeFileSync(
    file,
    JSON.stringify({
      lists: [
        { name: 'bloctel', kind: 'deny', source: writeList([LISTED], 'bloctel.txt', dir) },
        { name: 'consents', kind: 'allow', role: 'consent', source: writeList([CONSENTED], 'consents.txt', dir) },
      ],
      // "optin" needs a consent (no attempt counting, so embedded mode serves it); "open" only the deny-list.
      policies: { optin: { base: 'deny-lists', requireConsent: true } },
      campaigns: { open: { policy: 'deny-lists' }, optin: { policy: 'optin' } },
      defaultPolicy: 'optin',
    }),
  );
  return file;
}

interface AuditCheck {
  readonly type: string;
  readonly number: string | null;
  readonly input?: string;
  readonly campaign: string | null;
  readonly verdict: string;
  readonly reason: string;
  readonly dial?: boolean;
}

function auditChecks(dir: string): AuditCheck[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditCheck)
    .filter((r) => r.type === 'check');
}

function first(call: SippCall, direction: SippMessage['direction'], startsWith: string): SippMessage | undefined {
  return call.messages.find((m) => m.direction === direction && m.firstLine.startsWith(startsWith));
}

/** Milliseconds from the INVITE SIPp sent to the 603 it received, by SIPp's own trace timestamps. */
function declineDelayMs(call: SippCall): number {
  const invite = first(call, 'sent', 'INVITE ');
  const decline = first(call, 'received', 'SIP/2.0 603');
  if (invite === undefined || decline === undefined) throw new Error(`no INVITE/603 in the trace: ${call.messages.map((m) => m.firstLine).join(' | ')}`);
  return decline.at - invite.at;
}

/** The X-Callgate-Reason of the 603 a declined call received; fails the test when the call was not declined. */
function declinedWith(call: SippCall): string | null {
  expect(call.code, `sipp: ${call.errors}${call.stderr}`).toBe(0);
  const decline = first(call, 'received', 'SIP/2.0 603');
  expect(decline, 'a 603 Decline').toBeDefined();
  return sipHeader(decline?.text ?? '', 'X-Callgate-Reason');
}

function answered(call: SippCall): void {
  expect(call.code, `sipp: ${call.errors}${call.stderr}`).toBe(0);
  expect(first(call, 'received', 'SIP/2.0 200')).toBeDefined();
}

/** The INVITEs the carrier received (one per Call-ID: retransmissions count once): Call-ID to request-URI user. */
function invitesByCallId(uas: SippUas): Map<string, string> {
  const byCall = new Map<string, string>();
  for (const m of uas.messages()) {
    if (m.direction !== 'received' || !m.firstLine.startsWith('INVITE ')) continue;
    byCall.set(sipHeader(m.text, 'Call-ID') ?? m.text, /^INVITE sip:([^@]*)@/.exec(m.firstLine)?.[1] ?? '');
  }
  return byCall;
}

/** The request-URI users of the INVITEs the carrier received, one per call. */
function invitesAtCarrier(uas: SippUas): string[] {
  return [...invitesByCallId(uas).values()];
}

/** The INVITE of call `callId` as the carrier received it, once it has (waits: it arrives asynchronously). */
function carrierInvite(uas: SippUas, callId: string): Promise<SippMessage> {
  const find = (): SippMessage | undefined => uas.messages().find((m) => m.direction === 'received' && m.firstLine.startsWith('INVITE ') && sipHeader(m.text, 'Call-ID') === callId);
  return waitFor(find, `the INVITE of ${callId} at the carrier`, WAIT_MS);
}

/** Waits until Kamailio's log matches `re` (it reaches this process through a pipe, after the SIP answer may have), at most WAIT_MS; the assertion after it shows the log. */
async function logged(k: RunningKamailio, re: RegExp): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!re.test(k.log()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(k.log()).toMatch(re);
}

describe('Kamailio gate (integrations/kamailio/kamailio.cfg) with real Kamailio, SIPp and callgate', () => {
  let server: SpawnedServer;
  let auditDir: string;
  let uas: SippUas;
  let kamailio: RunningKamailio;
  const extra: RunningKamailio[] = [];
  // Every call placed in this block, with the answer it had to get: the last test checks the carrier saw
  // exactly the allowed ones, by Call-ID (not by count: a count hides a missing call behind another).
  const placed: { readonly scenario: 'uac-answered' | 'uac-declined'; readonly number: string; readonly callId: string }[] = [];
  const dial = async (port: number, scenario: 'uac-answered' | 'uac-declined', o: CallOptions): Promise<SippCall> => {
    const call = await sippCall(port, scenario, o);
    placed.push({ scenario, number: o.number, callId: call.callId });
    return call;
  };

  beforeAll(async () => {
    assertSipPartsInstalled();
    const dir = tempDir('callgate-kamailio-test-');
    auditDir = tempDir('callgate-audit-');
    server = await spawnServe(['--config', writeConfig(dir), '--audit-dir', auditDir, '--check-token', TOKEN]);
    await waitFor(async () => (await readyz(server.port)).body.ready, 'callgate ready');
    uas = await startSippUas();
    kamailio = await startKamailio({ callgateUrl: `http://127.0.0.1:${server.port}`, nextHopPort: uas.port, timeoutS: TIMEOUT_S, token: TOKEN });
  });

  afterAll(async () => {
    if (server !== undefined && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGCONT');
      server.child.kill('SIGKILL');
    }
    for (const k of [kamailio, ...extra]) await k?.stop();
    await uas?.stop();
  });

  it('relays an allowed INVITE to the carrier and the call completes (X-Campaign removed on the way)', async () => {
    const call = await dial(kamailio.port, 'uac-answered', { number: UNLISTED, campaign: 'open' });
    answered(call);
    const invite = await carrierInvite(uas, call.callId);
    expect(invite.firstLine).toMatch(new RegExp(`^INVITE sip:${UNLISTED}@`));
    expect(sipHeader(invite.text, 'X-Campaign')).toBeNull();
    // callgate saw the dial-time check with the header's campaign.
    await waitFor(() => auditChecks(auditDir).some((r) => r.number === '+33612000099' && r.campaign === 'open' && r.verdict === 'allow' && r.dial === true), 'the allow in the audit trail');
  });

  it('answers a listed number 603 Decline with the list in X-Callgate-Reason; the carrier never sees it', async () => {
    expect(declinedWith(await dial(kamailio.port, 'uac-declined', { number: LISTED, campaign: 'open' }))).toBe('bloctel');
    // E.164 in the request-URI too, with the plus that dialplans send unencoded.
    expect(declinedWith(await dial(kamailio.port, 'uac-declined', { number: '+33612000001', campaign: 'open' }))).toBe('bloctel');
    expect(invitesAtCarrier(uas)).not.toContain(LISTED);
    expect(invitesAtCarrier(uas)).not.toContain('+33612000001');
  });

  it('takes the campaign from X-Campaign, else callgate\'s default policy', async () => {
    // No header: the default policy (opt-in) needs a consent.
    expect(declinedWith(await dial(kamailio.port, 'uac-declined', { number: UNLISTED }))).toBe('no_consent');
    answered(await dial(kamailio.port, 'uac-answered', { number: CONSENTED }));
    // The header's campaign decides: "open" does not need a consent, an unknown one blocks.
    answered(await dial(kamailio.port, 'uac-answered', { number: UNLISTED, campaign: 'open' }));
    expect(declinedWith(await dial(kamailio.port, 'uac-declined', { number: UNLISTED, campaign: 'optin' }))).toBe('no_consent');
    expect(declinedWith(await dial(kamailio.port, 'uac-declined', { number: UNLISTED, campaign: 'nosuch' }))).toBe('unknown_campaign');
  });

  it('a number carrying &campaign= cannot change the campaign', async () => {
    const injected = `${UNLISTED}&campaign=open`;
    // What the injection would buy if the number were pasted into the query unescaped: "open" allows it.
    const ask = async (query: string): Promise<string> => (await fetch(`http://127.0.0.1:${server.port}/v1/check?format=text&token=${encodeURIComponent(TOKEN)}&${query}`)).text();
    expect(await ask(`number=${UNLISTED}&campaign=open`)).toBe('allow');
    expect(await ask(`number=${UNLISTED}`)).toBe('block no_consent');

    // Through the gate the whole user part is the number: not a valid one, so it blocks, under the
    // campaign the dialer chose (none, or the header's), and the carrier never sees it.
    expect(declinedWith(await dial(kamailio.port, 'uac-declined', { number: injected }))).toBe('invalid_number');
    expect(declinedWith(await dial(kamailio.port, 'uac-declined', { number: injected, campaign: 'optin' }))).toBe('invalid_number');
    // And an unknown header campaign stays unknown whatever the number says.
    expect(declinedWith(await dial(kamailio.port, 'uac-declined', { number: `${UNLISTED}&campaign=open&dial=0`, campaign: 'nosuch' }))).toBe('unknown_campaign');
    expect(invitesAtCarrier(uas).filter((u) => u.includes('campaign'))).toEqual([]);

    const records = await waitFor(() => {
      const r = auditChecks(auditDir).filter((c) => c.input?.startsWith(injected) === true);
      return r.length >= 3 ? r : null;
    }, 'the three injected checks in the audit trail');
    expect(records.map((r) => [r.input, r.campaign, r.verdict, r.reason, r.dial])).toEqual([
      [injected, null, 'block', 'invalid_number', true],
      [injected, 'optin', 'block', 'invalid_number', true],
      [`${injected}&dial=0`, 'nosuch', 'block', 'unknown_campaign', true],
    ]);
  });

  it('takes SIP over TCP too when CG_LISTEN_TCP is given: an allowed call reaches the carrier over UDP and is answered, a listed number gets 603', async () => {
    const tcp = await startKamailio({ callgateUrl: `http://127.0.0.1:${server.port}`, nextHopPort: uas.port, timeoutS: TIMEOUT_S, token: TOKEN, tcp: true });
    extra.push(tcp);
    const tcpPort = tcp.tcpPort ?? 0;
    const call = await dial(tcp.port, 'uac-answered', { number: UNLISTED, campaign: 'open', tcpPort });
    // The INVITE came over TCP (the dialer's Via, under Kamailio's, says so), reached the carrier over UDP,
    // and the carrier's 200 came back over TCP. Read at the carrier: SIPp never traces a send it had to
    // buffer (its TCP connect still in progress on a loaded machine). Not SIPp's exit code: its TCP client,
    // on this loaded machine, at times loses its socket (EAGAIN) after the ACK and never sends the BYE,
    // which says nothing about the gate.
    const invite = await carrierInvite(uas, call.callId);
    expect(invite.firstLine).toMatch(new RegExp(`^INVITE sip:${UNLISTED}@`));
    expect(invite.transport).toBe('UDP');
    expect(invite.text).toMatch(/^Via: SIP\/2\.0\/TCP 127\.0\.0\.1:/m);
    expect(first(call, 'received', 'SIP/2.0 200')?.transport, `sipp: ${call.code} ${call.errors}${call.stderr}`).toBe('TCP');
    expect(declinedWith(await dial(tcp.port, 'uac-declined', { number: LISTED, campaign: 'open', tcpPort }))).toBe('bloctel');
    expect(invitesAtCarrier(uas)).not.toContain(LISTED);
    await tcp.stop();
  });

  it('answers 603 gate_unavailable, never a 5xx, when Kamailio has no shared memory left for a transaction', async () => {
    // 16 MB holds about a thousand transactions, each kept 5 s after its final reply: a burst runs it out.
    const uasPeer = await startUas();
    const small = await startKamailio({ callgateUrl: `http://127.0.0.1:${server.port}`, nextHopPort: uasPeer.port, token: TOKEN, shmMb: 16, children: 2 });
    extra.push(small);
    const uac = await startUac(small.port);
    const statuses = new Map<number, number>();
    const reasons = new Set<string>();
    // The first answer of each other status, shown when the test fails.
    const odd = new Map<number, string>();
    const outOfMemory = /gate_unavailable \(no transaction/;
    let next = 0;
    try {
      // Until Kamailio logs a refusal for want of memory (on a slow machine it takes more calls), at most
      // 20,000. Not until the first 603: on a loaded machine a check can time out first (also a 603
      // gate_unavailable, but not the case under test), and the log reaches this process asynchronously.
      while (!outOfMemory.test(small.log()) && next < 20_000) {
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            next++;
            // A number the default policy allows (this UAC sends no X-Campaign): every call is checked and relayed.
            const r = await uac.call(CONSENTED);
            statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
            if (r.status === 603) reasons.add(sipHeader(r.head, 'X-Callgate-Reason') ?? '');
            else if (r.status !== 200 && !odd.has(r.status)) odd.set(r.status, r.head);
          }),
        );
      }
    } finally {
      await uac.close();
      await small.stop();
      await uasPeer.close();
    }
    const errors = small.log().split('\n').filter((l) => / (ERROR|CRITICAL|WARNING): /.test(l)).slice(0, 20).join('\n');
    expect([...statuses.keys()].sort(), `${[...odd.values()].join('\n\n')}\n${errors}`).toEqual([200, 603]);
    // gate_unavailable: no transaction for the check; relay_failed: memory ran out at the relay of an allowed INVITE.
    expect([...reasons].filter((r) => r !== 'gate_unavailable' && r !== 'relay_failed')).toEqual([]);
    expect(reasons.has('gate_unavailable')).toBe(true);
    expect(small.log(), `after ${next} calls`).toMatch(outOfMemory);
  });

  it('fails closed with 603 gate_error when callgate refuses the request (wrong check token)', async () => {
    const wrong = await startKamailio({ callgateUrl: `http://127.0.0.1:${server.port}`, nextHopPort: uas.port, timeoutS: TIMEOUT_S, token: 'not-the-token' });
    extra.push(wrong);
    expect(declinedWith(await dial(wrong.port, 'uac-declined', { number: UNLISTED, campaign: 'open' }))).toBe('gate_error');
    await wrong.stop();
  });

  it('fails closed with 603 gate_unavailable within the timeout when callgate hangs (SIGSTOP), and recovers', async () => {
    server.child.kill('SIGSTOP');
    try {
      const call = await dial(kamailio.port, 'uac-declined', { number: UNLISTED, campaign: 'open' });
      expect(declinedWith(call)).toBe('gate_unavailable');
      const delay = declineDelayMs(call);
      // It waited on the hung gate (the timeout fired, curl's 28), and no longer than the timeout allows.
      expect(delay).toBeGreaterThanOrEqual(TIMEOUT_S * 1000 - 100);
      expect(delay).toBeLessThan(TIMEOUT_S * 1000 + SLACK_MS);
      await logged(kamailio, /INVITE blocked: gate_unavailable \(http status 28\)/);
    } finally {
      server.child.kill('SIGCONT');
    }
    // Resumed, callgate answers again through the same Kamailio workers.
    answered(await dial(kamailio.port, 'uac-answered', { number: UNLISTED, campaign: 'open' }));
  });

  it('fails closed with 603 gate_unavailable at once when callgate is dead (killed), and when nothing ever listened', async () => {
    server.child.kill('SIGKILL');
    await server.exited;
    const call = await dial(kamailio.port, 'uac-declined', { number: UNLISTED, campaign: 'open' });
    expect(declinedWith(call)).toBe('gate_unavailable');
    expect(declineDelayMs(call)).toBeLessThan(TIMEOUT_S * 1000 + SLACK_MS);
    // Refused (curl's 7); a worker's kept connection may first see the reset (52, 56): never the 1 s timeout (28).
    await logged(kamailio, /INVITE blocked: gate_unavailable \(http status (7|52|56)\)/);
    // Failures were logged (refused, timed out) but never with the URL: no number, no token.
    expect(kamailio.log()).not.toMatch(/0612000099|token=/);

    const nowhere = await startKamailio({ callgateUrl: `http://127.0.0.1:${await freeTcpPort()}`, nextHopPort: uas.port, timeoutS: TIMEOUT_S });
    extra.push(nowhere);
    expect(declinedWith(await dial(nowhere.port, 'uac-declined', { number: UNLISTED, campaign: 'open' }))).toBe('gate_unavailable');
    await nowhere.stop();
    // Exactly the calls placed to be answered reached the carrier (for UNLISTED: first test, campaign
    // test, TCP test, recovery), and not one declined call, whatever its number.
    const allowed = placed.filter((p) => p.scenario === 'uac-answered').map((p) => p.callId).sort();
    await waitFor(() => allowed.every((id) => invitesByCallId(uas).has(id)), 'every allowed call at the carrier', WAIT_MS);
    expect([...invitesByCallId(uas).keys()].sort()).toEqual(allowed);
  });
});

describe('Kamailio gate: any answer but status 200 and exactly "allow" fails closed', () => {
  // Keyed by the number the INVITE carries: [status, body, extra headers].
  const replies: Record<string, [number, string, Record<string, string>?]> = {
    '0612000011': [200, 'allow\n'],
    '0612000012': [200, 'Allow'],
    '0612000013': [200, 'allowed'],
    '0612000014': [200, ' allow'],
    '0612000015': [200, ''],
    '0612000016': [200, 'block bloctel\r\nX-Evil: 1'],
    '0612000017': [500, 'allow'],
    '0612000018': [302, 'allow', { location: '/v1/check?number=0612000019' }],
    '0612000019': [200, 'allow'],
  };
  let stand: Server;
  let uas: SippUas;
  let kamailio: RunningKamailio;

  beforeAll(async () => {
    assertSipPartsInstalled();
    stand = createServer((req, res) => {
      const number = new URL(req.url ?? '/', 'http://x').searchParams.get('number') ?? '';
      const [status, body, headers] = replies[number] ?? [404, 'error not_found'];
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(body);
    });
    await new Promise<void>((resolve) => stand.listen(0, '127.0.0.1', () => resolve()));
    uas = await startSippUas();
    kamailio = await startKamailio({ callgateUrl: `http://127.0.0.1:${(stand.address() as AddressInfo).port}`, nextHopPort: uas.port, timeoutS: TIMEOUT_S });
  });

  afterAll(async () => {
    await kamailio?.stop();
    await uas?.stop();
    await new Promise<void>((resolve) => (stand === undefined ? resolve() : stand.close(() => resolve())));
  });

  it('answers 603 gate_unavailable to a trailing newline, another case, a longer word, an empty body, a 5xx, a redirect; never injects a header', async () => {
    // The stand-in answers exactly `allow` for this one: the path works, so the refusals below are the guard's.
    answered(await sippCall(kamailio.port, 'uac-answered', { number: '0612000019' }));
    for (const number of Object.keys(replies).filter((n) => n !== '0612000019')) {
      const call = await sippCall(kamailio.port, 'uac-declined', { number });
      expect([number, declinedWith(call)]).toEqual([number, 'gate_unavailable']);
      expect(first(call, 'received', 'SIP/2.0 603')?.text).not.toMatch(/X-Evil/i);
    }
    expect(invitesAtCarrier(uas)).toEqual(['0612000019']);
  });
});

/** A SIP message's first line and a header, for the UDP peers of the CANCEL tests. */
function firstLine(text: string): string {
  return text.split('\r\n')[0] ?? '';
}

/** A response to `req` with its Via, From, Call-ID and CSeq, a To tag added when `toTag` is given. */
function responseTo(req: string, status: string, toTag: string | null, extra = ''): string {
  const vias = req.split('\r\n').filter((l) => /^Via\s*:/i.test(l)).join('\r\n');
  const to = sipHeader(req, 'To') ?? '';
  return `SIP/2.0 ${status}\r\n${vias}\r\nFrom: ${sipHeader(req, 'From')}\r\nTo: ${toTag === null || to.includes('tag=') ? to : `${to};tag=${toTag}`}\r\nCall-ID: ${sipHeader(req, 'Call-ID')}\r\nCSeq: ${sipHeader(req, 'CSeq')}\r\n${extra}Content-Length: 0\r\n\r\n`;
}

interface UdpPeer {
  readonly port: number;
  /** Every message received so far. */
  readonly received: string[];
  send(text: string, port: number): void;
  close(): Promise<void>;
}

async function udpPeer(onMessage: (text: string, reply: (t: string) => void) => void = () => {}): Promise<UdpPeer> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const received: string[] = [];
  socket.on('message', (m, from) => {
    const text = m.toString('latin1');
    received.push(text);
    onMessage(text, (t) => socket.send(t, from.port, from.address));
  });
  return {
    port: socket.address().port,
    received,
    send: (text, port) => socket.send(text, port, '127.0.0.1'),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

describe('Kamailio gate: a CANCEL from the dialer', () => {
  // The stand-in gate holds its answer to these numbers until the test lets it go (held.get(number)()).
  const ANSWERS: Record<string, string> = { '0612000031': 'allow', '0612000032': 'block bloctel', '0612000033': 'allow' };
  const HOLD = new Set(['0612000031', '0612000032']);
  const held = new Map<string, () => void>();
  let stand: Server;
  let carrier: UdpPeer;
  let kamailio: RunningKamailio;

  beforeAll(async () => {
    assertSipPartsInstalled();
    stand = createServer((req, res) => {
      const number = new URL(req.url ?? '/', 'http://x').searchParams.get('number') ?? '';
      const answer = (): void => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(ANSWERS[number] ?? 'block unexpected');
      };
      if (HOLD.has(number)) {
        held.set(number, () => {
          held.delete(number);
          answer();
        });
      }
      else answer();
    });
    await new Promise<void>((resolve) => stand.listen(0, '127.0.0.1', () => resolve()));
    // The carrier rings and never answers; a CANCEL gets its 200, and the INVITE its 487.
    const invites = new Map<string, string>();
    carrier = await udpPeer((text, reply) => {
      const callId = sipHeader(text, 'Call-ID') ?? '';
      if (text.startsWith('INVITE ')) {
        invites.set(callId, text);
        reply(responseTo(text, '180 Ringing', 'carrier', `Contact: <sip:carrier@127.0.0.1:${carrier.port}>\r\n`));
      } else if (text.startsWith('CANCEL ')) {
        reply(responseTo(text, '200 OK', null));
        const invite = invites.get(callId);
        if (invite !== undefined) reply(responseTo(invite, '487 Request Terminated', 'carrier'));
      }
    });
    // A held check waits for the test, never for the timeout: 5 s is far above any wait here.
    kamailio = await startKamailio({ callgateUrl: `http://127.0.0.1:${(stand.address() as AddressInfo).port}`, nextHopPort: carrier.port, timeoutS: 5 });
  });

  afterAll(async () => {
    for (const release of [...held.values()]) release();
    await kamailio?.stop();
    await carrier?.close();
    await new Promise<void>((resolve) => (stand === undefined ? resolve() : stand.close(() => resolve())));
  });

  /** INVITE `number`; once `cancelOn` (a provisional status) arrives, CANCEL it. Returns the dialer and the Call-ID. */
  async function inviteThenCancel(number: string, cancelOn: '100' | '180'): Promise<{ dialer: UdpPeer; callId: string }> {
    const callId = `cancel-${number}-${process.pid}`;
    let dialerPort = 0;
    const request = (method: string): string =>
      [
        `${method} sip:${number}@127.0.0.1:${kamailio.port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${dialerPort};branch=z9hG4bK${callId}`,
        `From: <sip:dialer@127.0.0.1:${dialerPort}>;tag=dialer`,
        `To: <sip:${number}@127.0.0.1:${kamailio.port}>`,
        `Call-ID: ${callId}`,
        `CSeq: 1 ${method}`,
        `Contact: <sip:dialer@127.0.0.1:${dialerPort}>`,
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    let cancelled = false;
    const dialer = await udpPeer((text, reply) => {
      if (!cancelled && firstLine(text).startsWith(`SIP/2.0 ${cancelOn} `)) {
        cancelled = true;
        reply(request('CANCEL'));
      }
      // The INVITE's final answer is ACKed (same branch, the answer's To tag), as RFC 3261 17.1.1.3 asks.
      if (/^SIP\/2\.0 [3-6]\d\d /.test(firstLine(text)) && /INVITE/i.test(sipHeader(text, 'CSeq') ?? '')) {
        reply(request('ACK').replace(/^To: .*$/m, `To: ${sipHeader(text, 'To')}`));
      }
    });
    dialerPort = dialer.port;
    dialer.send(request('INVITE'), kamailio.port);
    return { dialer, callId };
  }

  const statuses = (dialer: UdpPeer, method: string): string[] =>
    dialer.received.filter((t) => (sipHeader(t, 'CSeq') ?? '').endsWith(method)).map((t) => firstLine(t).slice('SIP/2.0 '.length, 'SIP/2.0 '.length + 3));
  const atCarrier = (callId: string): string[] => carrier.received.filter((t) => sipHeader(t, 'Call-ID') === callId).map((t) => firstLine(t).split(' ')[0] ?? '');

  for (const [number, what] of [
    ['0612000031', 'an allow'],
    ['0612000032', 'a block'],
  ] as const) {
    it(`while the check waits on callgate (${what}): the dialer gets 200 for the CANCEL and one 487; the INVITE never reaches the carrier`, async () => {
      const { dialer, callId } = await inviteThenCancel(number, '100');
      try {
        // The CANCEL answered while the check is still held: tm has marked the transaction canceled.
        await waitFor(() => statuses(dialer, 'CANCEL').includes('200'), 'the CANCEL answered 200');
        await waitFor(() => statuses(dialer, 'INVITE').includes('487'), 'the INVITE answered 487');
        const release = await waitFor(() => held.get(number) ?? null, 'the held check');
        release();
        await waitFor(() => kamailio.log().split('\n').some((l) => l.includes(callId) && l.includes('canceled by the dialer while the check ran')), 'the gate ending the canceled INVITE');
        expect(atCarrier(callId)).toEqual([]);
        // One final answer to the INVITE (its retransmissions aside): no second, stateless 487 after the check.
        expect(new Set(statuses(dialer, 'INVITE').filter((s) => s !== '100'))).toEqual(new Set(['487']));
        expect(kamailio.log()).not.toMatch(/stateless error reply used|didn't release transaction/);
      } finally {
        await dialer.close();
      }
    });
  }

  it('after an allowed INVITE was relayed: the CANCEL reaches the carrier, whose 487 reaches the dialer', async () => {
    const { dialer, callId } = await inviteThenCancel('0612000033', '180');
    try {
      await waitFor(() => statuses(dialer, 'INVITE').includes('487'), 'the carrier\'s 487');
      await waitFor(() => statuses(dialer, 'CANCEL').includes('200'), 'the CANCEL answered 200');
      expect(atCarrier(callId).slice(0, 2)).toEqual(['INVITE', 'CANCEL']);
    } finally {
      await dialer.close();
    }
  });
});
