/**
 * The one place pino is imported. One root logger per process, a child per component.
 * Logs are per connection and per list load, never per check; numbers go through maskNumber.
 * A key is written once per line: pino writes a child's bindings and the call site's fields side by
 * side, so a call-site field its bindings already carry is dropped (same value) or moved under
 * `shadowed` (a different one) — a JSON line with a key twice is read differently by every parser.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** The call-site fields without the keys the logger's bindings already write. */
export function withoutBoundKeys(fields: Record<string, unknown>, bindings: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  let shadowed: Record<string, unknown> | null = null;
  for (const key of Object.keys(fields)) {
    if (!Object.hasOwn(bindings, key)) continue;
    out ??= { ...fields };
    delete out[key];
    if (!Object.is(fields[key], bindings[key])) (shadowed ??= {})[key] = fields[key];
  }
  if (out === null) return fields;
  if (shadowed !== null) out['shadowed'] = shadowed;
  return out;
}

export function createLogger(options: { level: string; instanceId: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { instance: options.instanceId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          const first: unknown = args[0];
          if (first !== null && typeof first === 'object' && !(first instanceof Error)) {
            args[0] = withoutBoundKeys(first as Record<string, unknown>, this.bindings());
          }
          return method.apply(this, args);
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A logger that writes nothing (CLI commands whose output is for a person, and tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
