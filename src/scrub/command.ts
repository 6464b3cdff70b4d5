/**
 * `callgate scrub LEADS.csv`: the command around scrub.ts — the fail-closed client to the gate, progress
 * and a summary on stderr. Exit code: 0 when every row was decided (allowed or blocked by the gate, or a
 * bad row blocked by the scrub), 2 when any row could not be decided (gate_unavailable, not_ready…: the
 * files are written, those rows blocked, but a script must not ship the result as scrubbed) or on an
 * error (the gate unreachable at the start: no file written).
 */
import { parseScrubCommand } from '../config/config.js';
import { CallgateClient } from '../client/client.js';
import { scrubFile, type ScrubSummary } from './scrub.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A batch of 1,000 numbers in Redis mode takes milliseconds; a minute means the gate is gone. */
const BATCH_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 10_000;

function describe(s: ScrubSummary): string {
  const reasons = Object.entries(s.blockedByReason)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
  const files = [s.files.callable, s.files.blocked, s.files.annotated, s.files.report].filter((f) => f !== undefined).join(', ');
  const lines = [
    `callgate scrub: ${s.rows} rows (column ${s.column}${s.header ? ', header kept' : ', no header'}; separator ${JSON.stringify(s.dialect.separator)}, ${s.encoding.encoding}${s.encoding.bom ? ' with BOM' : ''})`,
    `  callable ${s.callable}, blocked ${s.blocked}${reasons === '' ? '' : ` (${reasons})`}`,
  ];
  if (s.bad > 0) lines.push(`  bad rows ${s.bad}, first at line${s.firstProblemLines.length > 1 ? 's' : ''} ${s.firstProblemLines.join(', ')}${s.bad + s.undecided > s.firstProblemLines.length ? ', …' : ''} (all listed in the report)`);
  if (s.undecided > 0) lines.push(`  NOT DECIDED by the gate: ${s.undecided} rows (blocked; scrub them again once the gate answers)`);
  if (s.blankLines > 0) lines.push(`  blank lines skipped ${s.blankLines}`);
  lines.push(`  wrote ${files}`);
  return `${lines.join('\n')}\n`;
}

export async function runScrubCommand(argv: readonly string[], env: Env): Promise<number> {
  const config = parseScrubCommand(argv, env);
  const client = new CallgateClient({
    url: config.url,
    timeoutMs: BATCH_TIMEOUT_MS,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    pingIntervalMs: 0,
    ...(config.token === null ? {} : { token: config.token }),
  });
  try {
    // Unreachable is a failure of the command (CALLGATE_ERR_UNREACHABLE), not a file of blocks.
    await client.connected();
    const summary = await scrubFile({ input: config.input, campaign: config.campaign, column: config.column, outDir: config.outDir, annotate: config.annotate, progress: process.stderr }, client);
    process.stderr.write(describe(summary));
    return summary.undecided > 0 ? 2 : 0;
  } finally {
    await client.close();
  }
}
