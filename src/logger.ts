/**
 * The one place pino is imported. One root logger per process, a child per component.
 * Logs are per connection and per list load, never per check; numbers go through maskNumber.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level: string; instanceId: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { instance: options.instanceId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A logger that writes nothing (CLI commands whose output is for a person, and tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
