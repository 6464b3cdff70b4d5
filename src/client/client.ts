/**
 * The fail-closed client a dialer embeds (issue 14 item 2): one WebSocket to the gate, reconnected with
 * capped, jittered backoff; requests pipelined on it and matched to replies by id; single checks, batches
 * and call outcomes. Memory is bounded: at most `maxInFlight` requests on the wire and `maxPending` in all
 * (sent or queued); beyond that, and whenever the gate gives no verdict in `timeoutMs` — hung, dead,
 * unreachable, the connection lost — a check answers `{ verdict: 'block', reason: 'gate_unavailable' }`.
 * It never throws into the dialer's call path unless `throwOnUnavailable` asks it to.
 */
import { MAX_CAMPAIGN_LENGTH, MAX_NUMBER_LENGTH, OUTCOMES, type CallOutcome } from '../check/protocol.js';
import { Reason } from '../check/verdict.js';
import { CallgateError, ErrorCode } from '../core/errors.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { PendingTable } from './pending.js';
import { readReply, type BatchEntry, type CheckAnswer, type ClientError, type OutcomeAnswer, type Reply } from './replies.js';
import { openSocket, type ClientSocket } from './socket.js';

export interface ClientOptions {
  /** The gate's check socket, e.g. `ws://127.0.0.1:8080/`. */
  readonly url: string;
  /** A request with no reply after this long answers gate_unavailable. @default 1000 */
  readonly timeoutMs?: number;
  /** A connection attempt (TCP and WebSocket handshake) fails after this long. @default 2000 */
  readonly connectTimeoutMs?: number;
  /** Requests on the wire at once; more wait in the client's queue. @default 512 */
  readonly maxInFlight?: number;
  /** Requests held at once, on the wire and queued; one more answers gate_unavailable at once. @default 10000 */
  readonly maxPending?: number;
  /** Reconnect delays: exponential from `initialMs`, capped at `maxMs`, jittered. @default { initialMs: 100, maxMs: 5000, factor: 2 } */
  readonly backoff?: Partial<BackoffOptions>;
  /** A connection silent this long is pinged; silent for as long again, it is dropped and reopened; 0: off. @default 5000 */
  readonly pingIntervalMs?: number;
  /** Largest reply frame accepted (a batch's reply). @default 67108864 (64 MiB) */
  readonly maxPayloadBytes?: number;
  /** Sent as `Authorization: Bearer …` on the upgrade (a gate configured with a check token). */
  readonly token?: string;
  /** Extra upgrade headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Reject with a CallgateError (`CALLGATE_ERR_GATE_UNAVAILABLE`, `CALLGATE_ERR_BAD_REQUEST`) instead of
   * answering block. For tools, never for a dialer's call path. @default false
   */
  readonly throwOnUnavailable?: boolean;
  /** Told each state change (logging, metrics). Must not throw. */
  readonly onStateChange?: (state: ClientState, reason: string) => void;
}

/**
 * connecting: an attempt is under way (requests wait in the queue, within their timeout);
 * open: requests are sent; down: the last attempt failed and the next waits out its backoff (requests
 * answer gate_unavailable at once); closed: `close()` was called.
 */
export type ClientState = 'connecting' | 'open' | 'down' | 'closed';

export interface CheckOptions {
  /** The campaign whose rules apply (configured on the gate). */
  readonly campaign?: string;
  /** "I dial now if allowed": an allow counts as an attempt, atomically (docs/protocol.md). */
  readonly dial?: boolean;
}

export interface ClientStats {
  readonly state: ClientState;
  /** Requests sent and not yet answered. */
  readonly inFlight: number;
  /** Requests held (sent or queued). */
  readonly pending: number;
  /** Connections opened after the first. */
  readonly reconnects: number;
  /** Requests answered gate_unavailable because no reply came in time. */
  readonly timeouts: number;
  /** Requests answered gate_unavailable for any reason (timeouts included). */
  readonly unavailable: number;
  /** Replies that came after their request had timed out (dropped). */
  readonly lateReplies: number;
}

/** A check's promise's resolve: a check waits with nothing else (no closure, no object: the hot path). */
type CheckResolve = (answer: CheckAnswer | PromiseLike<CheckAnswer>) => void;

/** A batch or an outcome: told the gate's reply, or null with why there is none (answered gate_unavailable). */
interface OtherRequest {
  readonly settle: (reply: Reply | null, failure: string) => void;
}

/** What a pending request holds. */
type Waiter = CheckResolve | OtherRequest;

/**
 * One executor for every check's promise, so creating it allocates no closure: it hands the resolve
 * function over here, and check() takes it at once (synchronously, before anything else can run).
 */
let capturedResolve: CheckResolve | null = null;
function captureResolve(resolve: CheckResolve): void {
  capturedResolve = resolve;
}

interface Settings {
  readonly url: string;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxInFlight: number;
  readonly maxPending: number;
  readonly backoff: BackoffOptions;
  readonly pingIntervalMs: number;
  readonly maxPayloadBytes: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly throwOnUnavailable: boolean;
}

/** Unsent bytes in the socket past which queued requests stay queued (the gate or the network is slow). */
const SEND_HIGH_WATER_BYTES = 1024 * 1024;

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new CallgateError(ErrorCode.CONFIG, `client option ${name}: expected an integer ≥ ${min}, got ${String(value)}`);
  return value;
}

/** Options normalised once, validated with exact messages. */
function settingsOf(options: ClientOptions): Settings {
  const url = options.url;
  if (typeof url !== 'string' || !/^wss?:\/\/[^/?#\s]+/i.test(url) || !URL.canParse(url)) {
    throw new CallgateError(ErrorCode.CONFIG, `client option url: expected ws://host:port/ or wss://…, got ${JSON.stringify(url)}`);
  }
  const factor = options.backoff?.factor ?? DEFAULT_BACKOFF.factor;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) throw new CallgateError(ErrorCode.CONFIG, `client option backoff.factor: expected a number ≥ 1, got ${String(factor)}`);
  const backoff: BackoffOptions = {
    initialMs: positiveInt('backoff.initialMs', options.backoff?.initialMs, DEFAULT_BACKOFF.initialMs),
    maxMs: positiveInt('backoff.maxMs', options.backoff?.maxMs, DEFAULT_BACKOFF.maxMs),
    factor,
  };
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  return Object.freeze({
    url,
    timeoutMs: positiveInt('timeoutMs', options.timeoutMs, 1000),
    connectTimeoutMs: positiveInt('connectTimeoutMs', options.connectTimeoutMs, 2000),
    maxInFlight: positiveInt('maxInFlight', options.maxInFlight, 512),
    maxPending: positiveInt('maxPending', options.maxPending, 10_000),
    backoff: Object.freeze(backoff),
    pingIntervalMs: positiveInt('pingIntervalMs', options.pingIntervalMs, 5000, 0),
    maxPayloadBytes: positiveInt('maxPayloadBytes', options.maxPayloadBytes, 64 * 1024 * 1024),
    headers: Object.freeze(headers),
    throwOnUnavailable: options.throwOnUnavailable === true,
  });
}

/** Refuses locally what the gate would refuse as bad_request, before it costs a round trip or the connection. */
function invalidNumber(n: unknown): ClientError | null {
  return typeof n === 'string' && n.length <= MAX_NUMBER_LENGTH ? null : { code: 'bad_request', message: `a number must be a string of at most ${MAX_NUMBER_LENGTH} characters` };
}

function invalidCampaign(campaign: unknown): ClientError | null {
  if (campaign === undefined || (typeof campaign === 'string' && campaign.length > 0 && campaign.length <= MAX_CAMPAIGN_LENGTH)) return null;
  return { code: 'bad_request', message: `a campaign must be a non-empty string of at most ${MAX_CAMPAIGN_LENGTH} characters` };
}

const NO_OPTIONS: CheckOptions = Object.freeze({});

function unavailableError(message: string): ClientError {
  return { code: 'gate_unavailable', message };
}

/** What a caller that asked for throws (`throwOnUnavailable`) is rejected with. */
function callerError(error: ClientError): CallgateError {
  return new CallgateError(error.code === 'bad_request' ? ErrorCode.BAD_REQUEST : ErrorCode.GATE_UNAVAILABLE, `${error.code}: ${error.message}`);
}

/** The fail-closed answer to a check. */
function blocked(error: ClientError): CheckAnswer {
  return { verdict: 'block', reason: error.code === 'bad_request' ? 'bad_request' : Reason.GATE_UNAVAILABLE, number: null, error };
}

export class CallgateClient {
  readonly #s: Settings;
  readonly #onStateChange: ((state: ClientState, reason: string) => void) | undefined;
  readonly #pending: PendingTable<Waiter>;
  /** Why a request timed out, written once. */
  readonly #timeoutMessage: string;
  #socket: ClientSocket | null = null;
  #state: ClientState = 'connecting';
  #attempt = 0;
  #opened = 0;
  #timeouts = 0;
  #unavailable = 0;
  #lateReplies = 0;
  #sweepTimer: NodeJS.Timeout | null = null;
  #sweepAt = Number.POSITIVE_INFINITY;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #pingTimer: NodeJS.Timeout | null = null;
  /** Something came from the gate since the last ping tick. */
  #heard = true;
  #lastFailure = 'not connected yet';
  #waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  #closed: Promise<void> | null = null;

  constructor(options: ClientOptions) {
    this.#s = settingsOf(options);
    this.#onStateChange = options.onStateChange;
    this.#pending = new PendingTable<Waiter>(this.#s.maxPending);
    this.#timeoutMessage = `no reply within ${this.#s.timeoutMs} ms`;
    this.#connect();
  }

  get state(): ClientState {
    return this.#state;
  }

  get stats(): ClientStats {
    return {
      state: this.#state,
      inFlight: this.#pending.size - this.#pending.unsent,
      pending: this.#pending.size,
      reconnects: Math.max(0, this.#opened - 1),
      timeouts: this.#timeouts,
      unavailable: this.#unavailable,
      lateReplies: this.#lateReplies,
    };
  }

  /**
   * Resolves once the connection is open; rejects (CALLGATE_ERR_UNREACHABLE) when the attempt under way
   * fails. Not needed before checking — a check issued while connecting waits in the queue — but a tool
   * can tell "unreachable" from "blocked" with it.
   */
  connected(): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(new CallgateError(ErrorCode.UNREACHABLE, 'the client is closed'));
    if (this.#state === 'down') return Promise.reject(new CallgateError(ErrorCode.UNREACHABLE, `cannot reach ${this.#s.url}: ${this.#lastFailure}`));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Checks one number. Resolves with the gate's verdict, or block/gate_unavailable; never rejects unless `throwOnUnavailable`. */
  check(number: string, options: CheckOptions = NO_OPTIONS): Promise<CheckAnswer> {
    const invalid = invalidNumber(number) ?? invalidCampaign(options.campaign);
    if (invalid !== null) return this.#failCheck(invalid);
    const id = this.#admit();
    if (typeof id === 'string') return this.#failCheck(unavailableError(id));
    // The frame is written, not stringified from an object: this is the hot path (bench/client-driver.ts).
    let frame = `{"id":${id},"op":"check","number":${JSON.stringify(number)}`;
    if (options.campaign !== undefined) frame += `,"campaign":${JSON.stringify(options.campaign)}`;
    if (options.dial === true) frame += ',"dial":true';
    const answer = new Promise<CheckAnswer>(captureResolve);
    this.#enqueue(id, capturedResolve as CheckResolve, `${frame}}`);
    capturedResolve = null;
    return answer;
  }

  /**
   * Checks many numbers in one request (a list scrub; never a dial). Results come in the order given;
   * on failure every entry is block with the same `error`.
   */
  batch(numbers: readonly string[], options: Pick<CheckOptions, 'campaign'> = {}): Promise<BatchEntry[]> {
    const all = (error: ClientError): BatchEntry[] => (Array.isArray(numbers) ? numbers : []).map(() => blocked(error));
    const invalid = Array.isArray(numbers) && numbers.length > 0 ? (numbers.map(invalidNumber).find((e) => e !== null) ?? invalidCampaign(options.campaign)) : { code: 'bad_request' as const, message: 'a batch needs a non-empty array of numbers' };
    if (invalid !== null) return this.#fail(invalid, all);
    let body = `"op":"check","numbers":${JSON.stringify(numbers)}`;
    if (options.campaign !== undefined) body += `,"campaign":${JSON.stringify(options.campaign)}`;
    return new Promise<BatchEntry[]>((resolve, reject) => {
      this.#submit(body, (reply, failure) => {
        if (reply === null) return this.#settleFailure(unavailableError(failure), resolve, reject, all);
        if (reply.kind === 'batch' && reply.results.length === numbers.length) return resolve([...reply.results]);
        if (reply.kind === 'error') return this.#settleFailure(reply.error, resolve, reject, all);
        return this.#settleFailure(unavailableError(`the gate answered a batch of ${numbers.length} with ${reply.kind === 'batch' ? `${reply.results.length} results` : `a ${reply.kind} reply`}`), resolve, reject, all);
      });
    });
  }

  /** Records a call's outcome (a disposition): a refusal feeds the refusal rules, an answered call the counts. */
  outcome(number: string, outcome: CallOutcome, options: Pick<CheckOptions, 'campaign'> = {}): Promise<OutcomeAnswer> {
    const failed = (error: ClientError): OutcomeAnswer => ({ ok: false, error });
    const invalid =
      invalidNumber(number) ?? invalidCampaign(options.campaign) ?? (typeof outcome === 'string' && OUTCOMES.has(outcome) ? null : { code: 'bad_request' as const, message: 'an outcome must be "no_answer", "answered" or "refused"' });
    if (invalid !== null) return this.#fail(invalid, failed);
    let body = `"op":"outcome","number":${JSON.stringify(number)},"outcome":${JSON.stringify(outcome)}`;
    if (options.campaign !== undefined) body += `,"campaign":${JSON.stringify(options.campaign)}`;
    return new Promise<OutcomeAnswer>((resolve, reject) => {
      this.#submit(body, (reply, failure) => {
        if (reply === null) return this.#settleFailure(unavailableError(failure), resolve, reject, failed);
        if (reply.kind === 'outcome') return resolve({ ok: true, number: reply.number, outcome: reply.outcome });
        if (reply.kind === 'error') return this.#settleFailure(reply.error, resolve, reject, failed);
        return this.#settleFailure(unavailableError(`the gate answered an outcome with a ${reply.kind} reply`), resolve, reject, failed);
      });
    });
  }

  /**
   * Stops reconnecting, answers every pending request gate_unavailable, and closes the connection.
   * Later requests answer gate_unavailable at once.
   */
  close(): Promise<void> {
    if (this.#closed !== null) return this.#closed;
    this.#setState('closed', 'closed by the caller');
    this.#clearTimers();
    this.#failAll('the client was closed');
    this.#rejectWaiters(new CallgateError(ErrorCode.UNREACHABLE, 'the client was closed'));
    const socket = this.#socket;
    this.#closed =
      socket === null
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.#afterClose = resolve;
            socket.close();
            // A peer that never answers the closing handshake (a hung gate) must not hold the caller.
            setTimeout(() => socket.terminate(), 1000).unref();
          });
    return this.#closed;
  }

  #afterClose: (() => void) | null = null;

  // ---- requests ----

  #failCheck(error: ClientError): Promise<CheckAnswer> {
    return this.#fail(error, blocked);
  }

  /** A request answered without the gate: resolved fail-closed, or rejected when the caller asked for throws. */
  #fail<T>(error: ClientError, answer: (error: ClientError) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => this.#settleFailure(error, resolve, reject, answer));
  }

  #settleFailure<T>(error: ClientError, resolve: (v: T) => void, reject: (e: Error) => void, answer: (error: ClientError) => T): void {
    if (error.code !== 'bad_request') this.#unavailable++;
    if (!this.#s.throwOnUnavailable) {
      resolve(answer(error));
      return;
    }
    reject(callerError(error));
  }

  /** A fresh id for a request, or why it answers gate_unavailable at once (closed, down, maxPending reached). */
  #admit(): number | string {
    if (this.#state === 'closed') return 'the client is closed';
    if (this.#state === 'down') return `the gate is unreachable (${this.#lastFailure}); reconnecting`;
    const id = this.#pending.nextId();
    return id === 0 ? `${this.#s.maxPending} requests already pending (maxPending)` : id;
  }

  /** A batch or an outcome; `body`: the request's JSON fields after the id, written by the caller. */
  #submit(body: string, settle: (reply: Reply | null, failure: string) => void): void {
    const id = this.#admit();
    if (typeof id === 'string') return settle(null, id);
    this.#enqueue(id, { settle }, `{"id":${id},${body}}`);
  }

  /** Holds a request under the id #admit gave, and sends it now if the connection and the limits allow (in order). */
  #enqueue(id: number, waiter: Waiter, frame: string): void {
    const deadline = performance.now() + this.#s.timeoutMs;
    this.#pending.add(id, waiter, deadline, frame);
    this.#flush();
    this.#armSweep(deadline);
  }

  /** Sends queued requests while the connection is open, under `maxInFlight` and the send high-water mark. */
  #flush(): void {
    const socket = this.#socket;
    if (socket === null || this.#state !== 'open') return;
    const pending = this.#pending;
    while (pending.unsent > 0 && pending.size - pending.unsent < this.#s.maxInFlight && socket.bufferedAmount < SEND_HIGH_WATER_BYTES) {
      const frame = pending.nextToSend();
      if (frame === null) return;
      socket.send(frame);
    }
  }

  #onText(text: string): void {
    this.#heard = true;
    const reply = readReply(text);
    // A frame the client cannot read names no request it can trust: its request times out, closed.
    if (reply === null || typeof reply.id !== 'number') return;
    const waiter = this.#pending.take(reply.id);
    if (waiter === undefined) {
      this.#lateReplies++;
      return;
    }
    this.#settle(waiter, reply, '');
    this.#flush();
  }

  /** Answers a request: the gate's reply, or null with why there is none. */
  #settle(waiter: Waiter, reply: Reply | null, failure: string): void {
    if (typeof waiter !== 'function') return waiter.settle(reply, failure);
    if (reply !== null && reply.kind === 'check') return waiter(reply.answer);
    const error = reply === null ? unavailableError(failure) : reply.kind === 'error' ? reply.error : unavailableError(`the gate answered a check with a ${reply.kind} reply`);
    if (error.code !== 'bad_request') this.#unavailable++;
    // Resolving with a rejected promise rejects: a check keeps no reject function (one less per check).
    waiter(this.#s.throwOnUnavailable ? Promise.reject(callerError(error)) : blocked(error));
  }

  // ---- timeouts ----

  /** One timer for the oldest deadline: deadlines rise with issue order (pending.ts). */
  #armSweep(deadline: number): void {
    if (this.#sweepTimer !== null && this.#sweepAt <= deadline) return;
    if (this.#sweepTimer !== null) clearTimeout(this.#sweepTimer);
    this.#sweepAt = deadline;
    // +1: Node may fire a timer a fraction of a millisecond early by performance.now().
    this.#sweepTimer = setTimeout(() => this.#sweep(), Math.max(0, deadline - performance.now()) + 1);
  }

  #sweep(): void {
    this.#sweepTimer = null;
    this.#sweepAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    for (let waiter = this.#pending.expireOldest(now); waiter !== undefined; waiter = this.#pending.expireOldest(now)) {
      this.#timeouts++;
      this.#settle(waiter, null, this.#timeoutMessage);
    }
    const next = this.#pending.oldestDeadline();
    if (next !== null) this.#armSweep(next);
    this.#flush();
  }

  // ---- connection ----

  #connect(): void {
    this.#reconnectTimer = null;
    this.#setState('connecting', 'connecting');
    const socket = openSocket(
      this.#s.url,
      { handshakeTimeoutMs: this.#s.connectTimeoutMs, maxPayloadBytes: this.#s.maxPayloadBytes, headers: this.#s.headers },
      {
        onOpen: () => {
          if (this.#socket !== socket || this.#state === 'closed') return;
          this.#opened++;
          this.#attempt = 0;
          this.#heard = true;
          this.#startPing(socket);
          this.#setState('open', 'connected');
          const waiters = this.#waiters;
          this.#waiters = [];
          for (const w of waiters) w.resolve();
          this.#flush();
        },
        onText: (text) => {
          if (this.#socket === socket) this.#onText(text);
        },
        onPong: () => {
          this.#heard = true;
        },
        onClose: (reason) => this.#onLost(socket, reason),
        // The close that always follows carries the reason; nothing to do here but keep ws from throwing.
        onError: () => {},
      },
    );
    this.#socket = socket;
  }

  #onLost(socket: ClientSocket, reason: string): void {
    if (this.#socket !== socket) return;
    this.#socket = null;
    if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
    if (this.#state === 'closed') {
      this.#afterClose?.();
      this.#afterClose = null;
      return;
    }
    this.#lastFailure = reason;
    this.#setState('down', reason);
    // A lost connection answers now: the replies of what was sent on it can never come.
    this.#failAll(`connection to the gate lost: ${reason}`);
    this.#rejectWaiters(new CallgateError(ErrorCode.UNREACHABLE, `cannot reach ${this.#s.url}: ${reason}`));
    const delay = backoffDelay(this.#attempt++, this.#s.backoff);
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
    // Reconnecting alone must not keep a process alive that has nothing else to do.
    this.#reconnectTimer.unref();
  }

  /** Pings a connection each interval; one that said nothing for a whole interval since is dropped (a hung gate). */
  #startPing(socket: ClientSocket): void {
    if (this.#s.pingIntervalMs === 0) return;
    this.#pingTimer = setInterval(() => {
      if (!this.#heard) {
        socket.terminate();
        return;
      }
      this.#heard = false;
      socket.ping();
    }, this.#s.pingIntervalMs);
    this.#pingTimer.unref();
  }

  #failAll(message: string): void {
    for (let waiter = this.#pending.shift(); waiter !== undefined; waiter = this.#pending.shift()) this.#settle(waiter, null, message);
    if (this.#sweepTimer !== null) clearTimeout(this.#sweepTimer);
    this.#sweepTimer = null;
    this.#sweepAt = Number.POSITIVE_INFINITY;
  }

  #rejectWaiters(err: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(err);
  }

  #clearTimers(): void {
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
    this.#reconnectTimer = null;
    this.#pingTimer = null;
  }

  #setState(state: ClientState, reason: string): void {
    if (this.#state === state) return;
    this.#state = state;
    try {
      this.#onStateChange?.(state, reason);
    } catch {
      // A listener's bug must not break the client's state machine.
    }
  }
}
