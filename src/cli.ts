/**
 * `callgate <command>`: the process entry. `--help` on every command and `--version`; any failure is
 * one coded line on stderr and exit code 2 (never a stack trace). Everything else is in main.ts
 * (the composition root) and the command modules.
 */
import { readFileSync } from 'node:fs';
import { CallgateError, ErrorCode, isCallgateError } from './core/errors.js';
import { runChangeCommand, runRefreshCommand, runWhyCommand } from './admin/client.js';
import { runAuditCommand } from './audit/command.js';
import { runCheckCommand } from './client/check-command.js';
import { runScrubCommand } from './scrub/command.js';
import { runAcceptEvictionsCommand, runLoadCommand, runServe } from './main.js';

/** Each command's usage, printed by `callgate COMMAND --help` (and all of them by `callgate --help`). */
const COMMANDS: Readonly<Record<string, string>> = {
  serve: `callgate serve [--host 127.0.0.1] [--port 8080] [--config FILE] [--list NAME=PATH]… [--redis URL] …
  Runs the sidecar. Every option is also a CALLGATE_* variable and a config-file key (docs/configuration.md).`,
  check: `callgate check [--url ws://127.0.0.1:8080] [--campaign NAME] [--json] [--exit-code] NUMBER…
  One line per number: given, verdict, reason, E.164 (--json: one JSON array of the replies).
  --exit-code: 0 when every number is allowed, 1 when any is blocked, 2 on an error.`,
  scrub: `callgate scrub LEADS.csv [--url ws://127.0.0.1:8080] [--campaign NAME] [--column N|NAME] [--out DIR] [--annotate] [--token T]
  Checks a lead file's phone column through a running gate in batches (never a dial); writes NAME.callable.csv and
  NAME.blocked.csv (--annotate: NAME.scrubbed.csv) with verdict, reason, e164 and retryAt appended, and NAME.report.txt
  listing bad rows by line. 2 when any row could not be decided (docs/scrub.md).`,
  load: `callgate load --redis URL [--redis-prefix P] [--force] [--kind deny|allow] [--role consent|contract] NAME=PATH…
  Writes a new generation of each list into Redis and switches the fleet to it.`,
  'accept-evictions': `callgate accept-evictions --redis URL [--redis-prefix P]
  Clears the fleet's eviction flag once an operator has made Redis safe again (docs/redis-mode.md, "What Redis must guarantee").`,
  refresh: `callgate refresh [--url http://127.0.0.1:8080] [--token T] [--list NAME] [--force]
  Asks a running sidecar to refresh its lists now; 1 unless every list loaded or was unchanged.`,
  list: `callgate list add|remove NAME NUMBER… [--url U] [--token T] [--who W]
  Records (or withdraws) intraday additions of a list on a running sidecar.`,
  block: `callgate block NUMBER… [--url U] [--token T] [--who W]
  Adds numbers to the block list (--block-list) at once.`,
  unblock: `callgate unblock NUMBER… [--url U] [--token T] [--who W]
  Withdraws intraday block-list additions (numbers listed by the file stay listed).`,
  why: `callgate why NUMBER [--url http://127.0.0.1:8080] [--token T] [--who W] [--json]
  Why a running sidecar blocks or allows a number: its lists (since when, by whom), consent, refusal, attempts,
  and each campaign's verdict now (never counted as an attempt; recorded in the audit trail). docs/why.md.`,
  audit: `callgate audit NUMBER [--from DATE] [--to DATE] [--dir DIR]…
  Every recorded decision and call outcome of one number, oldest first.`,
};

const USAGE = `usage:
${Object.values(COMMANDS)
  .map((u) => `  ${u.split('\n')[0] as string}`)
  .join('\n')}
  callgate --version
"callgate COMMAND --help" explains one command. Every option also reads a CALLGATE_* environment variable; see docs/configuration.md.
Exit codes: 0 done, 1 a negative answer (a number blocked with --exit-code, a list refused, a change rejected), 2 an error.`;

function version(): string {
  // package.json sits one folder above both src/ and dist/.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return String(pkg.version);
}

/** parseArgs stops at `--`: a `--help` after it is a positional, not a request for help. */
function asksForHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && command in COMMANDS && asksForHelp(rest)) {
    process.stdout.write(`usage: ${COMMANDS[command] as string}\n`);
    return 0;
  }
  switch (command) {
    case 'serve':
      return runServe(rest, process.env);
    case 'check':
      return runCheckCommand(rest, process.env);
    case 'scrub':
      return runScrubCommand(rest, process.env);
    case 'load':
      return runLoadCommand(rest, process.env);
    case 'accept-evictions':
      return runAcceptEvictionsCommand(rest, process.env);
    case 'refresh':
      return runRefreshCommand(rest, process.env);
    case 'list':
      return runChangeCommand('list', rest, process.env);
    case 'block':
    case 'unblock':
      return runChangeCommand(command, rest, process.env);
    case 'audit':
      return runAuditCommand(rest, process.env);
    case 'why':
      return runWhyCommand(rest, process.env);
    case '--version':
    case '-v':
    case 'version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case undefined:
      process.stderr.write(`${USAGE}\n`);
      return 2;
    default:
      throw new CallgateError(ErrorCode.CONFIG, `unknown command ${JSON.stringify(command)}; "callgate --help" lists the commands`);
  }
}

/** One line, whatever the message holds (a newline in a message must not forge a second line). */
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ').trim();
}

/** The one line a failure prints: its message and its stable code, never a stack. */
function describeFailure(err: unknown): string {
  if (isCallgateError(err)) return `callgate: ${oneLine(err.message)} [${err.code}]`;
  const message = err instanceof Error ? err.message : String(err);
  return `callgate: ${oneLine(message) || 'unexpected failure'} [${ErrorCode.INTERNAL}]`;
}

main(process.argv.slice(2)).then(
  (code) => {
    // serve keeps running; it sets the exit code itself on shutdown.
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${describeFailure(err)}\n`);
    process.exitCode = 2;
  },
);
