/**
 * When the nightly refresh runs: a cron expression in an IANA time zone. The one file importing croner.
 *
 * DST, as croner 11 does it (Vixie cron's rule; observed and pinned in test/unit/schedule.test.ts)
 * for a fixed-time job such as the default `30 2 * * *` in Europe/Paris:
 * - spring forward (2026-03-29, 02:00–03:00 local does not exist): the run happens once, at the first
 *   valid time after the gap, 03:00 CEST (01:00Z);
 * - fall back (2026-10-25, 02:30 happens twice): the run happens once, at the first 02:30 (00:30Z).
 * So a production night always gets exactly one refresh. We set `fixedTimeRule: 'no-wildcard'` so that
 * lists and ranges of hours (`30 2,14 * * *`) are fixed-time too. Expressions with a `*` or a `/` step
 * in their minute or hour field are interval jobs: croner skips their times in the gap and runs both
 * occurrences of a repeated time, as Vixie cron does.
 */
import { Cron } from 'croner';
import { CallgateError, ErrorCode } from '../core/errors.js';

/** Every night at 02:30: after the day's opt-outs are in, long before calls start at 10:00 (décret 2022-1313). */
export const DEFAULT_REFRESH_CRON = '30 2 * * *';
export const DEFAULT_REFRESH_TIMEZONE = 'Europe/Paris';

export interface Schedule {
  readonly cron: string;
  readonly timezone: string;
  /** The next time onTick fires, or null once stopped (or for an expression that never matches again). */
  nextRun(): Date | null;
  /** Stops the timer for good. Idempotent. */
  stop(): void;
}

export interface ScheduleOptions {
  /**
   * Receives what onTick throws. A timer is where an event enters, so errors stop here rather than
   * becoming an unhandled rejection. @default rethrow on a fresh task (crashes loudly: a bug in the caller)
   */
  readonly onError?: (err: unknown) => void;
}

/**
 * Checks a cron expression and time zone without starting a timer (for config validation at start-up).
 * Throws CALLGATE_ERR_CONFIG with what was expected and what was got.
 */
export function validateSchedule(cron: string, timezone: string): void {
  const job = build(cron, timezone, undefined);
  job.stop();
}

/**
 * Calls onTick at each time the 5-field cron expression matches in `timezone`. onTick should start the
 * refresh and return; overlapping runs are the caller's business (it knows whether one is in flight).
 */
export function createSchedule(cron: string, timezone: string, onTick: () => void, opts: ScheduleOptions = {}): Schedule {
  const onError = opts.onError ?? rethrowLater;
  const job = build(cron, timezone, () => {
    try {
      onTick();
    } catch (err) {
      onError(err);
    }
  });
  return {
    cron,
    timezone,
    nextRun: () => (job.isStopped() ? null : job.nextRun()),
    stop: () => job.stop(),
  };
}

function build(cron: string, timezone: string, fn: (() => void) | undefined): Cron {
  assertTimezone(timezone);
  let job: Cron;
  try {
    const options = { timezone, mode: '5-part', fixedTimeRule: 'no-wildcard', paused: fn === undefined } as const;
    job = fn === undefined ? new Cron(cron, options) : new Cron(cron, options, fn);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new CallgateError(
      ErrorCode.CONFIG,
      `refresh schedule must be a 5-field cron expression (minute hour day-of-month month day-of-week, ` +
        `e.g. '${DEFAULT_REFRESH_CRON}'), got '${cron}': ${detail}`,
      { cause: err },
    );
  }
  if (job.nextRun() === null) {
    job.stop();
    throw new CallgateError(ErrorCode.CONFIG, `refresh schedule '${cron}' never runs (no matching date in ${timezone})`);
  }
  return job;
}

function assertTimezone(timezone: string): void {
  try {
    // Intl is what croner uses underneath; it accepts exactly the IANA names the runtime knows.
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch (err) {
    throw new CallgateError(
      ErrorCode.CONFIG,
      `refresh time zone must be an IANA time zone name (e.g. '${DEFAULT_REFRESH_TIMEZONE}'), got '${timezone}'`,
      { cause: err },
    );
  }
}

function rethrowLater(err: unknown): void {
  setImmediate(() => {
    throw err;
  });
}
