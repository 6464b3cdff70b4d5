/**
 * The two SIP ends of bench/kamailio.ts, as small as a timing needs: a UAC that sends an INVITE and
 * times it to its final response (performance.now(), microseconds — SIPp's own response times come in
 * steps of its scheduler tick, several milliseconds, too coarse for a sub-millisecond gate), and a UAS
 * that answers every INVITE at once with 200 OK (Record-Route mirrored). Over UDP on loopback. No ACK
 * or BYE: the proxy keeps no dialog state, and its INVITE transaction ends with the 2xx.
 */
import { createSocket, type Socket } from 'node:dgram';

/** Header lines of a SIP message, by lower-case name (all values, in order). */
function headers(text: string): { first: string; get: (name: string) => string[] } {
  const head = text.split('\r\n\r\n')[0] ?? '';
  const lines = head.split('\r\n');
  const map = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = map.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    map.set(name, list);
  }
  return { first: lines[0] ?? '', get: (name) => map.get(name) ?? [] };
}

async function bound(): Promise<{ socket: Socket; port: number }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  return { socket, port: socket.address().port };
}

export interface Uas {
  readonly port: number;
  /** INVITEs answered so far. */
  readonly answered: () => number;
  close(): Promise<void>;
}

/** Answers each INVITE with 200 OK straight away (Via, From, To with a tag, Call-ID, CSeq, Record-Route mirrored). */
export async function startUas(): Promise<Uas> {
  const { socket, port } = await bound();
  let answered = 0;
  socket.on('message', (msg, rinfo) => {
    const text = msg.toString('latin1');
    const h = headers(text);
    if (!h.first.startsWith('INVITE ')) return;
    answered++;
    const to = h.get('to')[0] ?? '';
    const reply = [
      'SIP/2.0 200 OK',
      ...h.get('via').map((v) => `Via: ${v}`),
      ...h.get('record-route').map((r) => `Record-Route: ${r}`),
      `From: ${h.get('from')[0] ?? ''}`,
      `To: ${to.includes(';tag=') ? to : `${to};tag=uas${answered}`}`,
      `Call-ID: ${h.get('call-id')[0] ?? ''}`,
      `CSeq: ${h.get('cseq')[0] ?? ''}`,
      `Contact: <sip:uas@127.0.0.1:${port}>`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    socket.send(reply, rinfo.port, rinfo.address);
  });
  return { port, answered: () => answered, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

export interface CallResult {
  /** Final status code, or 0 when none came within the timeout. */
  readonly status: number;
  /** INVITE sent → final response received, in milliseconds. */
  readonly ms: number;
  /** The final response's status line and headers (empty on a timeout): what to show when it is not a 200. */
  readonly head: string;
}

export interface Uac {
  /** One INVITE to `user`@proxy; resolves with its final response (provisionals are skipped). */
  call(user: string, timeoutMs?: number): Promise<CallResult>;
  close(): Promise<void>;
}

/** A UAC bound to a free loopback port that sends its INVITEs to the proxy at `proxyPort`. */
export async function startUac(proxyPort: number): Promise<Uac> {
  const { socket, port } = await bound();
  const pending = new Map<string, { started: number; resolve: (r: CallResult) => void; timer: NodeJS.Timeout }>();
  let seq = 0;
  socket.on('message', (msg) => {
    const text = msg.toString('latin1');
    const h = headers(text);
    const status = /^SIP\/2\.0 (\d{3})/.exec(h.first);
    if (status === null || Number(status[1]) < 200) return;
    const id = h.get('call-id')[0] ?? '';
    const p = pending.get(id);
    if (p === undefined) return;
    pending.delete(id);
    clearTimeout(p.timer);
    p.resolve({ status: Number(status[1]), ms: performance.now() - p.started, head: text.split('\r\n\r\n')[0] ?? '' });
  });
  return {
    call: (user, timeoutMs = 10_000) =>
      new Promise((resolve) => {
        const n = ++seq;
        const callId = `bench-${process.pid}-${port}-${n}`;
        const branch = `z9hG4bKb${port}x${n}`;
        const invite = [
          `INVITE sip:${user}@127.0.0.1:${proxyPort} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch}`,
          `From: <sip:dialer@127.0.0.1:${port}>;tag=uac${n}`,
          `To: <sip:${user}@127.0.0.1:${proxyPort}>`,
          `Call-ID: ${callId}`,
          'CSeq: 1 INVITE',
          `Contact: <sip:dialer@127.0.0.1:${port}>`,
          'Max-Forwards: 70',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
        const timer = setTimeout(() => {
          pending.delete(callId);
          resolve({ status: 0, ms: timeoutMs, head: '' });
        }, timeoutMs);
        pending.set(callId, { started: performance.now(), resolve, timer });
        socket.send(invite, proxyPort, '127.0.0.1');
      }),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
