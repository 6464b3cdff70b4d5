/**
 * Writes docs/configuration.md from the OPTIONS table (src/config/options.ts), so the documented flags,
 * variables, defaults and ranges are the parsed ones: the README's hand-kept table had drifted (four options
 * missing). Run with `npm run docs` (`npx tsx scripts/gen-config-doc.ts`); test/unit/config/config-doc.test.ts
 * renders it in memory and fails when the committed file differs. Pure rendering plus one write.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OPTIONS, type OptionDef } from '../src/config/options.js';

/** Where the generated file lives, from the repository root. */
export const CONFIG_DOC_PATH = 'docs/configuration.md';

/** Table cells: a `|` would end the cell, a newline the row. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function code(text: string): string {
  return `\`${text}\``;
}

function defaultOf(def: OptionDef): string {
  if (def.default === null) return '–';
  return code(String(def.default));
}

function rangeOf(def: OptionDef): string {
  switch (def.type) {
    case 'boolean':
      return '`true` / `false`';
    case 'string':
      return 'text';
    case 'int':
    case 'number': {
      const what = def.type === 'int' ? 'integer' : 'number';
      if (def.min !== undefined && def.max !== undefined) return `${what}, ${def.min} – ${def.max}`;
      if (def.min !== undefined) return `${what} ≥ ${def.min}`;
      if (def.max !== undefined) return `${what} ≤ ${def.max}`;
      return what;
    }
    default: {
      const never: never = def.type;
      throw new Error(`unknown option type ${String(never)}`);
    }
  }
}

function flagOf(def: OptionDef): string {
  return def.type === 'boolean' ? code(`--${def.flag}`) : code(`--${def.flag} VALUE`);
}

/** Per-list keys of a config file's `lists` entries that override a global option (config.ts LIST_KEYS). */
const LIST_OVERRIDES: readonly { readonly fileKey: string; readonly optionKey: string }[] = [
  { fileKey: 'falsePositiveRate', optionKey: 'falsePositiveRate' },
  { fileKey: 'cron', optionKey: 'refreshCron' },
  { fileKey: 'timezone', optionKey: 'refreshTimezone' },
  { fileKey: 'maxAgeDays', optionKey: 'maxAgeDays' },
  { fileKey: 'warnDays', optionKey: 'ageWarnDays' },
  { fileKey: 'maxShrinkRatio', optionKey: 'maxShrinkRatio' },
  { fileKey: 'maxBadLineRatio', optionKey: 'maxBadLineRatio' },
];

function optionOf(options: readonly OptionDef[], key: string): OptionDef {
  const def = options.find((d) => d.key === key);
  if (def === undefined) throw new Error(`gen-config-doc: no option ${key} in the OPTIONS table`);
  return def;
}

/** The whole of docs/configuration.md, from a table (OPTIONS unless a test passes another). */
export function renderConfigDoc(options: readonly OptionDef[] = OPTIONS): string {
  const lines: string[] = [
    '<!-- Generated from src/config/options.ts by scripts/gen-config-doc.ts: do not edit; run `npm run docs`. -->',
    '',
    '# Configuration',
    '',
    '> **Generated — do not edit; run `npm run docs`.** The source is the `OPTIONS` table in',
    '> [`src/config/options.ts`](../src/config/options.ts); `test/unit/config/config-doc.test.ts` fails when this',
    '> file is stale.',
    '',
    'Every option is a flag of `callgate serve` (and of `callgate load` where it applies), a `CALLGATE_*`',
    'environment variable, and a key of the `--config` JSON file. Precedence: flag > environment > file >',
    'default. callgate reads no other variable (a harness\'s `REDIS_URL` or `PORT` never changes its mode).',
    'An empty variable counts as unset, and so does a `null` in the file.',
    '',
    '## Lists and the config file',
    '',
    '| flag | variable | default | meaning |',
    '|---|---|---|---|',
    '| `--config FILE` | `CALLGATE_CONFIG` | – | JSON file: `{"lists": [ {name, kind, source?, falsePositiveRate?, cron?, timezone?, maxAgeDays?, warnDays?, maxShrinkRatio?, maxBadLineRatio?} ], …any key below in camelCase}`; relative sources are relative to the file; a list without `source` is fed by `list add` only |',
    '| `--list NAME=PATH` (repeatable) | `CALLGATE_LISTS` (`a=/p,b=/q`) | – | shorthand for a deny-list |',
    '',
    'The config file is one JSON object. Its keys are the options\' keys below, `lists`, and the rules\'',
    '`policies` and `campaigns` (see [French calling rules](french-rules.md)); any other key is refused',
    '(`CALLGATE_ERR_CONFIG`). A `lists` entry has `name`, `kind` (`deny`, the default, or `allow`), `role`',
    '(allow-lists only: `consent`, the default, or `contract`), `source` (a path, or an `http(s)://` URL) and',
    'these per-list overrides of a global option:',
    '',
    '| list key | overrides | default |',
    '|---|---|---|',
  ];
  for (const o of LIST_OVERRIDES) {
    const def = optionOf(options, o.optionKey);
    lines.push(`| ${code(o.fileKey)} | ${code(`--${def.flag}`)} | ${defaultOf(def)} |`);
  }
  lines.push(
    '',
    'A list configured twice (in the file and by `--list`, say) is refused.',
    '',
    '## Options',
    '',
    '| flag | variable | file key | default | range | description |',
    '|---|---|---|---|---|---|',
  );
  for (const def of options) {
    lines.push(`| ${flagOf(def)} | ${code(def.env)} | ${code(def.key)} | ${defaultOf(def)} | ${rangeOf(def)} | ${cell(def.doc)} |`);
  }
  lines.push(
    '',
    'Zero lists configured (and no Redis to take lists from): callgate refuses to start, exit code 2,',
    'with a message saying what to give. Every configuration error is exact (what was expected, what was',
    'got) and carries a stable code (`CALLGATE_ERR_CONFIG`, `CALLGATE_ERR_NO_LISTS`, `CALLGATE_ERR_LIST_NAME`, …).',
    'Every option, including each list\'s cron and time zone, is checked before any list is read.',
    '',
    'The commands (`serve`, `load`, `check`, `refresh`, …), their exit codes and the logs are in',
    '[Integrations](integrations.md).',
    '',
  );
  return lines.join('\n');
}

// `npx tsx scripts/gen-config-doc.ts`: write the file at the repository root (one folder above scripts/).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const target = fileURLToPath(new URL(`../${CONFIG_DOC_PATH}`, import.meta.url));
  writeFileSync(target, renderConfigDoc());
  process.stdout.write(`wrote ${CONFIG_DOC_PATH} (${OPTIONS.length} options)\n`);
}
