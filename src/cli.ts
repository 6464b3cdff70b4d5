/**
 * `callgate <command>`: the process entry. Maps configuration errors to a clear message and exit
 * code 2; everything else is in main.ts (the composition root) and the command modules.
 */
import { isCallgateError } from './errors.js';
import { runChangeCommand, runRefreshCommand } from './admin-client.js';
import { runAuditCommand } from './audit-command.js';
import { runCheckCommand, runLoadCommand, runServe } from './main.js';

const USAGE = `usage:
  callgate serve [--host 127.0.0.1] [--port 8080] [--config FILE] [--list NAME=PATH]… [--redis URL] …
  callgate check [--url ws://127.0.0.1:8080] [--campaign NAME] NUMBER…
  callgate load  --redis URL [--redis-prefix P] [--kind deny|allow] [--role consent|contract] NAME=PATH…
  callgate refresh [--url http://127.0.0.1:8080] [--token T] [--list NAME] [--force]
  callgate list add|remove NAME NUMBER… [--url U] [--token T] [--who W]
  callgate block|unblock NUMBER… [--url U] [--token T] [--who W]
  callgate audit NUMBER [--from DATE] [--to DATE] [--dir DIR]…
Every option also reads a CALLGATE_* environment variable; see the README.`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return runServe(rest, process.env);
    case 'check':
      return runCheckCommand(rest, process.env);
    case 'load':
      return runLoadCommand(rest, process.env);
    case 'refresh':
      return runRefreshCommand(rest, process.env);
    case 'list':
      return runChangeCommand('list', rest, process.env);
    case 'block':
    case 'unblock':
      return runChangeCommand(command, rest, process.env);
    case 'audit':
      return runAuditCommand(rest, process.env);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`callgate: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // serve keeps running; it sets the exit code itself on shutdown.
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (isCallgateError(err)) {
      process.stderr.write(`callgate: ${err.message} [${err.code}]\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`callgate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
