/**
 * The SIP parts of the Kamailio gate's tests and bench, run for real: Kamailio with
 * integrations/kamailio/kamailio.cfg on free loopback UDP ports, SIPp as the dialer (UAC) and as the
 * carrier (UAS), and the readers of what SIPp traced. Processes are started here and stopped by their
 * pid; nothing waits a fixed time: Kamailio is ready when it answers an OPTIONS, a SIPp UAC is done
 * when it exits (its exit code says whether its scenario passed). SIPp's message trace is flushed
 * entry by entry, but a send that had to be buffered (a TCP connect still in progress, a full socket)
 * is never traced as sent: over TCP, ask the peer that received it (each call has its own Call-ID).
 * Missing binaries are an error, never a skip (.ci/run installs them).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every Kamailio and SIPp started here and still running: signalled by pid if the process exits first. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  // SIGTERM, not SIGKILL: Kamailio's main process then stops its own workers.
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
});

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export const KAMAILIO_CFG = fileURLToPath(new URL('../../integrations/kamailio/kamailio.cfg', import.meta.url));
export const SIPP_DIR = fileURLToPath(new URL('../integration/integrations/sipp/', import.meta.url));

/** What the tests need, and the Debian package each comes from: a missing one is named with its package. */
const NEEDED: readonly { readonly what: string; readonly present: () => boolean; readonly pkg: string }[] = [
  { what: 'kamailio', present: () => onPath('kamailio'), pkg: 'kamailio' },
  { what: "kamailio's http_client module", present: () => shell(HTTP_CLIENT_PRESENT), pkg: 'kamailio-utils-modules' },
  { what: 'sipp', present: () => onPath('sipp'), pkg: 'sip-tester' },
];
/** Debian's module directory is per architecture (/usr/lib/<triplet>/kamailio/modules). */
const HTTP_CLIENT_PRESENT = 'for f in /usr/lib/*/kamailio/modules/http_client.so /usr/lib/kamailio/modules/http_client.so; do [ -e "$f" ] && exit 0; done; exit 1';

/** Throws, naming the Debian package, when Kamailio, its http_client module or SIPp is missing. */
export function assertSipPartsInstalled(): void {
  const missing = NEEDED.filter((n) => !n.present());
  if (missing.length > 0) throw new Error(`missing ${missing.map((m) => `${m.what} (apt-get install ${m.pkg})`).join(', ')}: .ci/run installs them`);
}

function onPath(name: string): boolean {
  return shell(`command -v ${name}`);
}

function shell(script: string): boolean {
  return spawnSync('sh', ['-c', script], { stdio: 'ignore' }).status === 0;
}

/** A UDP port free at the time of asking (bound to 0 by the kernel, then released). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A TCP port nobody listens on (bound to 0, released): a dead callgate's address. */
export async function freeTcpPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  const address = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

async function waitUntil(probe: () => Promise<boolean> | boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends one OPTIONS to host:port over UDP; resolves with the reply's status line, or null after `timeoutMs`. */
export function sipOptions(port: number, timeoutMs = 500): Promise<string | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    let done = false;
    const finish = (v: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.close();
      resolve(v);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    s.on('error', () => finish(null));
    s.on('message', (msg) => finish(msg.toString('latin1').split('\r\n')[0] ?? ''));
    s.bind(0, '127.0.0.1', () => {
      const local = s.address().port;
      const branch = `z9hG4bK${Math.random().toString(36).slice(2)}`;
      const text =
        `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};branch=${branch}\r\n` +
        `From: <sip:probe@127.0.0.1:${local}>;tag=${branch}\r\nTo: <sip:127.0.0.1:${port}>\r\nCall-ID: ${branch}@probe\r\n` +
        `CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
      s.send(text, port, '127.0.0.1');
    });
  });
}

export interface KamailioOptions {
  /** callgate's base URL (CG_URL). */
  readonly callgateUrl: string;
  /** Where allowed INVITEs go: the UAS's UDP port on 127.0.0.1. */
  readonly nextHopPort: number;
  readonly timeoutS?: number;
  readonly children?: number;
  readonly campaign?: string;
  readonly token?: string;
  /** Relay every INVITE without asking callgate (the bench's baseline). */
  readonly gateOff?: boolean;
  /** Kamailio's shared memory (-m), MB: transactions live there until 5 s after their final reply. Default 64. */
  readonly shmMb?: number;
  /** Also listen for SIP over TCP (CG_LISTEN_TCP) on a free loopback port: RunningKamailio.tcpPort. */
  readonly tcp?: boolean;
}

export interface RunningKamailio {
  readonly port: number;
  /** The TCP port when started with `tcp`, else null. */
  readonly tcpPort: number | null;
  readonly pid: number;
  /** Everything Kamailio logged so far (-E: its log on stderr). */
  log(): string;
  stop(): Promise<void>;
}

/** Starts Kamailio in the foreground (-DD -E) on a free UDP port and resolves once it answers OPTIONS. */
export async function startKamailio(o: KamailioOptions): Promise<RunningKamailio> {
  assertSipPartsInstalled();
  const port = await freeUdpPort();
  const tcpPort = o.tcp === true ? await freeTcpPort() : null;
  const dir = mkdtempSync(join(tmpdir(), 'callgate-kamailio-'));
  const subst = (name: string, value: string): string => `--substdef=!${name}!${value}!g`;
  const args = [
    '-f', KAMAILIO_CFG, '-DD', '-E', '-P', join(dir, 'kamailio.pid'), '-Y', dir, '-w', dir, '-m', String(o.shmMb ?? 64), '-M', '8',
    subst('CG_LISTEN', `udp:127.0.0.1:${port}`),
    subst('CG_NEXT_HOP', `sip:127.0.0.1:${o.nextHopPort}`),
    subst('CG_URL', o.callgateUrl),
    subst('CG_TIMEOUT_S', String(o.timeoutS ?? 1)),
    subst('CG_CHILDREN', String(o.children ?? 4)),
    ...(o.campaign === undefined ? [] : [subst('CG_CAMPAIGN', o.campaign)]),
    ...(o.token === undefined ? [] : [subst('CG_TOKEN', o.token)]),
    ...(o.gateOff === true ? ['-A', 'GATE_OFF'] : []),
    ...(tcpPort === null ? [] : [subst('CG_LISTEN_TCP', `tcp:127.0.0.1:${tcpPort}`)]),
  ];
  const child = track(spawn('kamailio', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running: RunningKamailio = {
    port,
    tcpPort,
    pid: child.pid ?? -1,
    log: () => log,
    stop: () => stopChild(child, exited),
  };
  try {
    await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`kamailio exited (${child.exitCode}) before answering; log:\n${log.slice(-4000)}`);
      return (await sipOptions(port, 300)) === 'SIP/2.0 200 OK';
    }, `kamailio answering OPTIONS on udp:127.0.0.1:${port}`, 30_000);
  } catch (err) {
    await running.stop();
    throw err;
  }
  return running;
}

/** SIGTERM by pid, then SIGKILL if it has not exited within 10 s; resolves once it has exited. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export interface SippUas {
  readonly port: number;
  /** The messages the UAS traced so far: a received one is traced as it is read, before any answer to it. */
  messages(): SippMessage[];
  stop(): Promise<void>;
}

/** Starts a SIPp UAS (sipp/uas.xml: 180, 200 with the Record-Route mirrored, then ACK and BYE) on a free port. */
export async function startSippUas(): Promise<SippUas> {
  assertSipPartsInstalled();
  const port = await freeUdpPort();
  const dir = mkdtempSync(join(tmpdir(), 'callgate-sipp-uas-'));
  const file = join(dir, 'uas.msg');
  const child = track(spawn('sipp', ['-sf', join(SIPP_DIR, 'uas.xml'), '-i', '127.0.0.1', '-p', String(port), '-nostdin', '-trace_msg', '-message_file', file, '-trace_err', '-error_file', join(dir, 'uas.err')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd: dir,
  }));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // SIPp binds its port before it writes anything: ready once the port is taken.
  await waitUntil(async () => {
    if (child.exitCode !== null) throw new Error(`sipp UAS exited (${child.exitCode}): ${stderr}`);
    return !(await udpPortFree(port));
  }, `sipp UAS on udp:127.0.0.1:${port}`, 20_000);
  return { port, messages: () => readSippTrace(file), stop: () => stopChild(child, exited) };
}

async function udpPortFree(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export interface SippMessage {
  /** Milliseconds, from SIPp's trace timestamp (its local wall clock: only differences are meaningful). */
  readonly at: number;
  readonly direction: 'sent' | 'received';
  readonly transport: 'UDP' | 'TCP';
  /** Request or status line. */
  readonly firstLine: string;
  readonly text: string;
}

/** SIPp's -trace_msg file: entries headed by a line of dashes and a timestamp, then "UDP (or TCP) message sent/received". */
export function readSippTrace(file: string): SippMessage[] {
  if (!existsSync(file)) return [];
  const out: SippMessage[] = [];
  const entries = readFileSync(file, 'latin1').split(/^-{10,} /m).slice(1);
  for (const entry of entries) {
    const lines = entry.split(/\r?\n/);
    const stamp = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})\.(\d{3})/.exec(lines[0] ?? '');
    const dir = /(UDP|TCP) message (sent|received)/.exec(lines[1] ?? '');
    if (stamp === null || dir === null) continue;
    const body = lines.slice(2).join('\r\n').replace(/^(\r\n)+/, '');
    out.push({
      at: Date.parse(`${stamp[1]}T${stamp[2]}.${stamp[3]}Z`),
      direction: dir[2] as 'sent' | 'received',
      transport: dir[1] as 'UDP' | 'TCP',
      firstLine: body.split('\r\n')[0] ?? '',
      text: body,
    });
  }
  return out;
}

export interface SippCall {
  /** The call's Call-ID, chosen here (-cid_str): unique even when the system reuses a SIPp's pid. */
  readonly callId: string;
  /** SIPp's exit code: 0 when the scenario passed (every expected message came), 1 when a call failed. */
  readonly code: number | null;
  readonly messages: SippMessage[];
  readonly errors: string;
  readonly stderr: string;
}

export interface CallOptions {
  /** The request-URI user (the number as the dialer sends it). */
  readonly number: string;
  /** X-Campaign header value; undefined: no such header. */
  readonly campaign?: string;
  /** Overall limit for SIPp (seconds). */
  readonly timeoutS?: number;
  /** Call over TCP to this port of Kamailio (its CG_LISTEN_TCP) instead of UDP to `kamailioPort`. */
  readonly tcpPort?: number;
}

/**
 * Places one call through Kamailio with SIPp: `scenario` is sipp/uac-answered.xml (expects 200, ACK,
 * BYE, 200) or sipp/uac-declined.xml (expects a 603, ACK). Resolves when SIPp exits.
 */
export async function sippCall(kamailioPort: number, scenario: 'uac-answered' | 'uac-declined', o: CallOptions): Promise<SippCall> {
  assertSipPartsInstalled();
  const port = await freeUdpPort();
  const dir = mkdtempSync(join(tmpdir(), 'callgate-sipp-uac-'));
  const file = join(dir, 'uac.msg');
  const errFile = join(dir, 'uac.err');
  const callId = `callgate-${randomBytes(8).toString('hex')}@127.0.0.1`;
  // The header's name is a key too, so that one scenario sends it or not (an unknown X- header is ignored).
  const header = o.campaign === undefined ? ['-key', 'campaign_header', 'X-Note', '-key', 'campaign', 'none'] : ['-key', 'campaign_header', 'X-Campaign', '-key', 'campaign', o.campaign];
  const args = [
    `127.0.0.1:${o.tcpPort ?? kamailioPort}`, '-sf', join(SIPP_DIR, `${scenario}.xml`), '-i', '127.0.0.1', '-p', String(port),
    ...(o.tcpPort === undefined ? [] : ['-t', 't1']),
    '-m', '1', '-cid_str', callId, '-nostdin', '-timeout', `${o.timeoutS ?? 20}`, '-timeout_error',
    '-key', 'number', o.number, ...header,
    '-trace_msg', '-message_file', file, '-trace_err', '-error_file', errFile,
  ];
  const child = track(spawn('sipp', args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir }));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  return { callId, code, messages: readSippTrace(file), errors: existsSync(errFile) ? readFileSync(errFile, 'latin1') : '', stderr };
}

/** The value of `name` in a SIP message's headers, or null. */
export function sipHeader(text: string, name: string): string | null {
  const re = new RegExp(`^${name.replace(/[-]/g, '\\-')}\\s*:\\s*(.*)$`, 'im');
  const m = re.exec(text.split('\r\n\r\n')[0] ?? '');
  return m === null ? null : (m[1] ?? '').trim();
}
