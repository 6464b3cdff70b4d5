/**
 * The dialer recipes of docs/integrations/recipes.md, exchange by exchange: Asterisk and FreeSWITCH are
 * not packaged here, so each recipe's HTTP request is made byte for byte as its client makes it — the
 * request line and URL shape (encoded as Asterisk's URIENCODE(), the recipe's Lua encoder or VICIdial's
 * variables encode), libcurl's headers (the client's User-Agent, `Accept: *\/*`, the form content type of
 * post data), one kept-alive connection reused as libcurl reuses its handle — against the real server in
 * Redis mode, and what the dialplan sees is checked (`${CALLGATE}`: the body, trailing blanks trimmed,
 * empty when the request failed or timed out). The fail-closed side too: a callgate that is down or hung
 * gives an empty answer, which no recipe reads as `allow`.
 */
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix, SHARED_REDIS_URL, uniquePrefix } from '../../helpers/redis.js';
import { startRedisMode } from '../../helpers/redis-service.js';
import { tempDir } from '../../helpers/service.js';
import type { RunningService } from '../../../src/service.js';
import { writeConfig } from '../../helpers/config-file.js';

// Tuesday 1 December 2026, 11:00 in Paris: inside the calling hours.
const TUESDAY_11H = Date.parse('2026-12-01T10:00:00Z');

const ASTERISK_UA = 'asterisk-libcurl-agent/1.0';
const FREESWITCH_UA = 'freeswitch-curl/1.0';
/** The curl command of Debian bookworm, which the FreeSWITCH recipe runs. */
const CURL_CLI_UA = 'curl/7.88.1';

/** Asterisk's URIENCODE() (ast_uri_encode, ast_uri_http): all but letters, digits and -_.!~*'() escaped, upper-case hex. */
function uriencode(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.!~*'()]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The recipe's Lua encoder: s:gsub("[^%w%-%._~]", "%%%02X"). */
function luaEncode(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

interface Exchange {
  readonly status: number | null;
  /** What the dialplan sees: the body with trailing blanks trimmed (CURL()), empty on failure or timeout. */
  readonly seen: string;
  readonly localPort: number | null;
}

/**
 * A libcurl easy handle as func_curl and mod_curl use it: its own User-Agent, `Accept: *\/*`, HTTP/1.1,
 * the connection kept and reused for the next request; a whole-request timeout (CURLOPT(httptimeout)):
 * the recipes' 1 s where the test is about it (a hung callgate), 10 s elsewhere, so that a busy machine
 * answering slowly is not read as a failed request.
 */
class CurlHandle {
  readonly #port: number;
  readonly #userAgent: string | null;
  readonly #timeoutMs: number;
  #socket: Socket | null = null;

  constructor(port: number, userAgent: string | null, timeoutMs = 10_000) {
    this.#port = port;
    this.#userAgent = userAgent;
    this.#timeoutMs = timeoutMs;
  }

  get(target: string): Promise<Exchange> {
    return this.#perform(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${this.#port}\r\n${this.#ua()}Accept: */*\r\n\r\n`);
  }

  /** CURL(url,data) / mod_curl `post DATA`: CURLOPT_POSTFIELDS, so libcurl's form content type. */
  post(target: string, data: string): Promise<Exchange> {
    return this.#perform(
      `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1:${this.#port}\r\n${this.#ua()}Accept: */*\r\nContent-Length: ${Buffer.byteLength(data)}\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n${data}`,
    );
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = null;
  }

  #ua(): string {
    return this.#userAgent === null ? '' : `User-Agent: ${this.#userAgent}\r\n`;
  }

  async #connection(): Promise<Socket | null> {
    if (this.#socket !== null && !this.#socket.destroyed) return this.#socket;
    return new Promise((resolve) => {
      const s = connect(this.#port, '127.0.0.1');
      s.once('connect', () => {
        this.#socket = s;
        resolve(s);
      });
      s.once('error', () => resolve(null));
    });
  }

  async #perform(request: string): Promise<Exchange> {
    const socket = await this.#connection();
    if (socket === null) return { status: null, seen: '', localPort: null };
    return new Promise((resolve) => {
      let received = Buffer.alloc(0);
      const finish = (e: Exchange): void => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(e);
      };
      const failed = (): void => {
        this.close();
        finish({ status: null, seen: '', localPort: null });
      };
      const timer = setTimeout(failed, this.#timeoutMs);
      const onClose = (): void => failed();
      const onData = (d: Buffer): void => {
        received = Buffer.concat([received, d]);
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = received.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
        if (Number.isNaN(length)) return failed();
        if (received.length < end + 4 + length) return;
        const body = received.subarray(end + 4, end + 4 + length).toString('utf8');
        finish({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), seen: body.replace(/\s+$/, ''), localPort: socket.localPort ?? null });
      };
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.write(request);
    });
  }
}

/** The dialplan's decision: Dial() only when ${CALLGATE} is exactly "allow". */
function dials(e: Exchange): boolean {
  return e.seen === 'allow';
}

describe('the dialer recipes, exchange by exchange', () => {
  const prefix = uniquePrefix('cgrecipes');
  let svc: RunningService & { url: string };
  let port: number;

  beforeAll(async () => {
    const dir = tempDir();
    const bloctel = join(dir, 'bloctel.txt');
    writeFileSync(bloctel, '0699999999\n');
    const config = writeConfig(dir, {
      lists: [
        { name: 'bloctel', kind: 'deny', source: bloctel },
        { name: 'internal', kind: 'deny' },
      ],
      // The French opt-out rules (hours, refusals) without the frequency cap, so dials can repeat.
      policies: { optout: { base: 'fr-optout', frequencyCap: null } },
      campaigns: { winter: { policy: 'optout' } },
    });
    svc = await startRedisMode(SHARED_REDIS_URL, prefix, ['--config', config, '--optout-token', 'ot-123'], { now: () => TUESDAY_11H });
    port = svc.port;
  });

  afterAll(async () => {
    await svc?.stop();
    await deletePrefix(SHARED_REDIS_URL, prefix);
  });

  it('Asterisk: CURL() before Dial(), the outcome from the h extension', async () => {
    const curl = new CurlHandle(port, ASTERISK_UA);
    try {
      const check = (exten: string): Promise<Exchange> => curl.get(`/v1/check?format=text&dial=1&campaign=winter&number=${uriencode(exten)}`);
      expect(uriencode('+33612000030')).toBe('%2B33612000030');
      const allowed = await check('0612000030');
      expect(allowed).toMatchObject({ status: 200, seen: 'allow' });
      expect(dials(allowed)).toBe(true);
      const plus = await check('+33612000031');
      expect(plus).toMatchObject({ status: 200, seen: 'allow' });
      // libcurl reuses its connection: the same local port.
      expect(plus.localPort).toBe(allowed.localPort);
      const listed = await check('0699999999');
      expect(listed).toMatchObject({ status: 200, seen: 'block bloctel' });
      expect(dials(listed)).toBe(false);
      const garbage = await check('anonymous');
      expect(garbage.seen).toBe('block invalid_number');
      // An extension that would carry "&campaign=" is encoded by URIENCODE(): it stays inside the number.
      expect((await check('0612000032&campaign=other')).seen).toBe('block invalid_number');
      // The h extension: CURL(url,data) posts the outcome.
      const outcome = await curl.post('/v1/outcome?format=text', `number=${uriencode('0612000030')}&campaign=winter&outcome=answered`);
      expect(outcome).toMatchObject({ status: 200, seen: 'ok' });
      expect(outcome.localPort).toBe(allowed.localPort);
      // A malformed request answers "error CODE": not "allow", so no Dial().
      const refused = await curl.get('/v1/check?format=text&dial=1&campaign=winter&number=0612000030&number=0699999999');
      expect(refused).toMatchObject({ status: 400, seen: 'error duplicate_parameter' });
      expect(dials(refused)).toBe(false);
    } finally {
      curl.close();
    }
  });

  it('FreeSWITCH: the Lua script running curl --max-time 1, a refusal through mod_curl', async () => {
    // `curl --silent --max-time 1 URL` from io.popen: one process, one connection, per call.
    const check = async (number: string): Promise<Exchange> => {
      const cli = new CurlHandle(port, CURL_CLI_UA);
      try {
        return await cli.get(`/v1/check?format=text&dial=1&campaign=${luaEncode('winter')}&number=${luaEncode(number)}`);
      } finally {
        cli.close();
      }
    };
    expect(luaEncode('+33 6.12')).toBe('%2B33%206.12');
    expect(await check('+33612000040')).toMatchObject({ status: 200, seen: 'allow' });
    expect(await check('0699999999')).toMatchObject({ status: 200, seen: 'block bloctel' });
    // A refusal from the agent desktop through mod_curl's `post DATA`: FreeSWITCH URL-decodes DATA
    // (switch_url_decode) before sending it, so the + goes out literal.
    const modCurl = new CurlHandle(port, FREESWITCH_UA);
    try {
      const data = decodeURIComponent(`number=${luaEncode('+33612000041')}&campaign=winter&outcome=refused`);
      expect(data).toBe('number=+33612000041&campaign=winter&outcome=refused');
      expect(await modCurl.post('/v1/outcome?format=text', data)).toMatchObject({ status: 200, seen: 'ok' });
    } finally {
      modCurl.close();
    }
    expect((await check('+33612000041')).seen).toBe('block refused_recently');
  });

  it('VICIdial: the carrier dialplan entry per dial prefix, the Dispo Call URL as a GET', async () => {
    const asterisk = new CurlHandle(port, ASTERISK_UA);
    const dispo = new CurlHandle(port, null);
    try {
      // Campaign winter dials with prefix 81: prefix + phone code + phone number.
      const carrier = (exten: string): Promise<Exchange> => asterisk.get(`/v1/check?format=text&dial=1&campaign=winter&number=%2B${exten.slice(2)}`);
      expect(await carrier('8133612000050')).toMatchObject({ status: 200, seen: 'allow' });
      expect(await carrier('8133699999999')).toMatchObject({ status: 200, seen: 'block bloctel' });
      // The agent sets DNC: the ALT Dispo Call URL for DNC, variables substituted by VICIdial.
      const fields = { phone_code: '33', phone_number: '612000050' };
      const url = `/v1/outcome?format=text&outcome=refused&campaign=winter&number=%2B${fields.phone_code}${fields.phone_number}`;
      expect(await dispo.get(url)).toMatchObject({ status: 200, seen: 'ok' });
      // The number may still sit in the hopper: the next call placed through the carrier is blocked.
      expect((await carrier('8133612000050')).seen).toBe('block refused_recently');
      // Other statuses: no_answer / answered are recorded and change nothing.
      expect(await dispo.get(url.replace('outcome=refused', 'outcome=no_answer').replace('612000050', '612000051'))).toMatchObject({ status: 200, seen: 'ok' });
      expect((await carrier('8133612000051')).seen).toBe('allow');
    } finally {
      asterisk.close();
      dispo.close();
    }
  });

  it('a commercial dialer: JSON pre-call check, list scrub, dispositions, the opt-out button', async () => {
    const base = `http://127.0.0.1:${port}`;
    const check = await fetch(`${base}/v1/check?number=${encodeURIComponent('+33699999999')}&campaign=winter&dial=1`);
    expect(check.status).toBe(200);
    expect(check.headers.get('x-callgate-verdict')).toBe('block');
    expect(await check.json()).toEqual({ verdict: 'block', reason: 'bloctel', number: '+33699999999' });
    const allowed = (await (await fetch(`${base}/v1/check?number=${encodeURIComponent('+33612000060')}&campaign=winter&dial=1`)).json()) as { verdict: string };
    expect(allowed.verdict).toBe('allow');

    const json = { 'content-type': 'application/json' };
    const scrub = await fetch(`${base}/v1/check`, { method: 'POST', headers: json, body: JSON.stringify({ numbers: ['0699999999', '0612000061', 'x'], campaign: 'winter' }) });
    expect(((await scrub.json()) as { results: Array<{ verdict: string; reason: string }> }).results.map((r) => `${r.verdict} ${r.reason}`)).toEqual(['block bloctel', 'allow not_listed', 'block invalid_number']);

    const outcome = await fetch(`${base}/v1/outcome`, { method: 'POST', headers: json, body: JSON.stringify({ number: '+33612000060', campaign: 'winter', outcome: 'refused' }) });
    expect(await outcome.json()).toEqual({ ok: true, number: '+33612000060', outcome: 'refused' });

    const noToken = await fetch(`${base}/v1/optout`, { method: 'POST', headers: json, body: JSON.stringify({ number: '+33612000062', who: 'agent-17' }) });
    expect(noToken.status).toBe(401);
    const optout = await fetch(`${base}/v1/optout`, { method: 'POST', headers: { ...json, authorization: 'Bearer ot-123' }, body: JSON.stringify({ number: '+33612000062', who: 'agent-17' }) });
    expect(optout.status).toBe(200);
    const after = (await (await fetch(`${base}/v1/check?number=${encodeURIComponent('+33612000062')}&campaign=winter`)).json()) as { verdict: string; reason: string };
    expect(after).toMatchObject({ verdict: 'block', reason: 'internal' });
  });

  it('fails closed: a callgate that is down or hung gives an empty answer, never "allow"', async () => {
    // Down: a port nothing listens on.
    const closed = await new Promise<number>((resolve) => {
      const s: Server = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const down = new CurlHandle(closed, ASTERISK_UA);
    const r = await down.get('/v1/check?format=text&dial=1&campaign=winter&number=0612000070');
    expect(r).toEqual({ status: null, seen: '', localPort: null });
    expect(dials(r)).toBe(false);
    // Hung: accepts, never answers; CURLOPT(httptimeout)=1 ends it.
    const sockets: Socket[] = [];
    const hung = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    try {
      const h = new CurlHandle((hung.address() as { port: number }).port, ASTERISK_UA, 1000);
      const t = await h.get('/v1/check?format=text&dial=1&campaign=winter&number=0612000070');
      expect(t.seen).toBe('');
      expect(dials(t)).toBe(false);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => hung.close(() => resolve()));
    }
  });
});
