/**
 * Progress of a long scrub on stderr: on a terminal one line rewritten every second; otherwise (a log,
 * a pipe) one line every ten seconds. Nothing for a scrub that ends before the first tick.
 */

export interface ProgressFigures {
  readonly rows: number;
  readonly bytesRead: number;
  readonly totalBytes: number;
}

export interface ProgressSink {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export class Progress {
  readonly #sink: ProgressSink;
  readonly #figures: () => ProgressFigures;
  readonly #started = performance.now();
  readonly #timer: NodeJS.Timeout;
  #printed = false;

  constructor(sink: ProgressSink, figures: () => ProgressFigures) {
    this.#sink = sink;
    this.#figures = figures;
    const tty = sink.isTTY === true;
    this.#timer = setInterval(() => this.#tick(tty), tty ? 1000 : 10_000);
    this.#timer.unref();
  }

  #tick(tty: boolean): void {
    const f = this.#figures();
    const seconds = (performance.now() - this.#started) / 1000;
    const pct = f.totalBytes > 0 ? Math.min(100, Math.floor((100 * f.bytesRead) / f.totalBytes)) : 100;
    const line = `callgate scrub: ${pct}% read, ${f.rows} rows done, ${Math.round(f.rows / Math.max(seconds, 0.001))} rows/s`;
    this.#sink.write(tty ? `\r${line}\u001b[K` : `${line}\n`);
    this.#printed = tty;
  }

  stop(): void {
    clearInterval(this.#timer);
    // A terminal's rewritten line is ended so the summary starts on its own line.
    if (this.#printed) this.#sink.write('\n');
  }
}
