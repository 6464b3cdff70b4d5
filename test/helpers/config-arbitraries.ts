/**
 * fast-check generators of configurations for the fuzz suites: values for every option of the
 * options table as a flag, a CALLGATE_* variable or a config-file key (hostile strings, numbers out
 * of range, wrong JSON types), odd list entries, policies and campaigns, and whole config files that
 * are not what they should be.
 */
import fc from 'fast-check';
import { OPTIONS } from '../../src/config/options.js';

/** A configuration to try: argv after `serve`, the environment, and the config file's text (if any). */
export interface ConfigCase {
  readonly argv: string[];
  readonly env: Record<string, string>;
  readonly file: string | null;
}

const hostileString = fc.oneof(
  fc.constantFrom('', ' ', '-1', '0', '1e999', 'NaN', 'Infinity', '0x10', '1.5', '99999999999999999999', 'true', 'off', '*/0 * * * *', 'Mars/Olympus', 'redis://', 'rediss://x:99999', '--port', 'a=b', '=', 'bad name=x', '\u0000', '\n', 'é', '../../etc/passwd'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

const jsonValue = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxKeys: 3 }),
);

const option = fc.constantFrom(...OPTIONS);

const listEntry = fc.oneof(
  jsonValue,
  fc.record(
    {
      name: fc.oneof(fc.constantFrom('bloctel', 'a', 'Bad Name', '', 'x'.repeat(200)), jsonValue),
      kind: fc.oneof(fc.constantFrom('deny', 'allow', 'grey'), jsonValue),
      role: fc.oneof(fc.constantFrom('consent', 'contract', 'other'), jsonValue),
      source: fc.oneof(fc.constantFrom('missing.txt', 'http://[', 'https://example.invalid/x'), jsonValue),
      cron: fc.oneof(fc.constantFrom('30 2 * * *', '61 * * * *', 'nope'), jsonValue),
      timezone: fc.oneof(fc.constantFrom('Europe/Paris', 'Nowhere/Land'), jsonValue),
      maxAgeDays: jsonValue,
      falsePositiveRate: jsonValue,
      extra: jsonValue,
    },
    { requiredKeys: [] },
  ),
);

const fileObject = fc.record(
  {
    lists: fc.oneof(jsonValue, fc.array(listEntry, { maxLength: 3 })),
    policies: fc.oneof(jsonValue, fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(jsonValue, fc.record({ base: fc.oneof(fc.constantFrom('fr-optin', 'fr-optout', 'deny-lists', 'nope'), jsonValue), frequencyCap: jsonValue }, { requiredKeys: [] })), { maxKeys: 2 })),
    campaigns: fc.oneof(jsonValue, fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(jsonValue, fc.record({ policy: jsonValue, sector: jsonValue }, { requiredKeys: [] })), { maxKeys: 2 })),
    options: fc.array(fc.tuple(option, jsonValue), { maxLength: 3 }),
    unknown: fc.option(fc.string({ minLength: 1, maxLength: 10 }), { nil: undefined }),
  },
  { requiredKeys: [] },
);

const fileText = fc.oneof(
  fileObject.map((f) => {
    const o: Record<string, unknown> = {};
    if (f.lists !== undefined) o['lists'] = f.lists;
    if (f.policies !== undefined) o['policies'] = f.policies;
    if (f.campaigns !== undefined) o['campaigns'] = f.campaigns;
    for (const [def, v] of f.options ?? []) o[def.key] = v;
    if (f.unknown !== undefined && !Object.hasOwn(o, f.unknown)) o[f.unknown] = 1;
    return JSON.stringify(o);
  }),
  fc.json(),
  fc.string({ maxLength: 60 }),
  fc.constantFrom('', '{', '[]', 'null', '{"lists": {}}', '\uFEFF{}'),
);

/** Flags, variables and a file, each from the options table; a valid --list may be added by the caller. */
export const configCase: fc.Arbitrary<ConfigCase> = fc
  .record({
    flags: fc.array(fc.tuple(option, hostileString), { maxLength: 3 }),
    booleanFlags: fc.array(option.filter((d) => d.type === 'boolean'), { maxLength: 1 }),
    extraArgs: fc.array(fc.constantFrom('--nope', 'positional', '--list', '--list=', '--config', '-x', '--'), { maxLength: 2 }),
    env: fc.array(fc.tuple(option, hostileString), { maxLength: 3 }),
    lists: fc.option(fc.oneof(fc.constantFrom('a=', '=b', 'bad name=x', 'a=/x,a=/y', ','), hostileString), { nil: undefined }),
    file: fc.option(fileText, { nil: null }),
  })
  .map(({ flags, booleanFlags, extraArgs, env, lists, file }) => {
    const argv: string[] = [];
    // Arguments and environment values cannot hold NUL: spawn refuses them.
    for (const [def, raw] of flags) {
      const v = raw.replace(/\0/g, '');
      argv.push(...(def.type === 'boolean' ? [`--${def.flag}=${v}`] : [`--${def.flag}`, v]));
    }
    for (const def of booleanFlags) argv.push(`--${def.flag}`);
    argv.push(...extraArgs);
    const e: Record<string, string> = {};
    for (const [def, v] of env) e[def.env] = v.replace(/\0/g, '');
    if (lists !== undefined) e['CALLGATE_LISTS'] = lists.replace(/\0/g, '');
    return { argv, env: e, file };
  });
