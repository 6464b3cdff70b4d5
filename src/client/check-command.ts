/**
 * `callgate check NUMBER…` through the package's own client (client.ts): one line per number — as given,
 * verdict, reason, E.164 — or, with --json, one JSON array of { input, verdict, reason, number } /
 * { input, error }. Exit code: 2 when the gate is unreachable or any answer is not a verdict (an error
 * reply, gate_unavailable); with --exit-code, 1 when any number is blocked; 0 otherwise.
 */
import { parseCheckCommand } from '../config/config.js';
import { CallgateClient } from './client.js';

type Env = Readonly<Record<string, string | undefined>>;

/** An operator's tool waits longer than a dialer would: a slow answer is still an answer here. */
const CHECK_COMMAND_TIMEOUT_MS = 10_000;

export async function runCheckCommand(argv: readonly string[], env: Env): Promise<number> {
  const config = parseCheckCommand(argv, env);
  const client = new CallgateClient({
    url: config.url,
    timeoutMs: CHECK_COMMAND_TIMEOUT_MS,
    connectTimeoutMs: CHECK_COMMAND_TIMEOUT_MS,
    maxPending: Math.max(10_000, config.numbers.length),
    pingIntervalMs: 0,
  });
  try {
    // Unreachable is a failure of the command (CALLGATE_ERR_UNREACHABLE), not a column of blocks.
    await client.connected();
    const answers = await Promise.all(config.numbers.map((number) => client.check(number, config.campaign === null ? {} : { campaign: config.campaign })));
    let failed = false;
    let blocked = false;
    const rows = answers.map((answer, i) => {
      const input = config.numbers[i] ?? '';
      if (answer.error !== undefined) {
        failed = true;
        return { input, error: answer.error };
      }
      if (answer.verdict !== 'allow') blocked = true;
      return { input, verdict: answer.verdict, reason: answer.reason, number: answer.number };
    });
    if (config.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
    else {
      for (const r of rows) {
        process.stdout.write('error' in r ? `${r.input}\terror\t${JSON.stringify(r.error)}\n` : `${r.input}\t${r.verdict}\t${r.reason}\t${r.number ?? '-'}\n`);
      }
    }
    if (failed) return 2;
    return config.exitCode && blocked ? 1 : 0;
  } finally {
    await client.close();
  }
}
