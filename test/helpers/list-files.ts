/**
 * The numbers the refresh and fleet tests put in their list files, and writing those files: written once
 * here so that every test means the same number by the same index.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The i-th test number, national form: 06 10 00 00 00 + i. */
export function fr(i: number): string {
  return `0${610_000_000 + i}`;
}

/** from, from + 1, …, to − 1. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, k) => from + k);
}

/** Writes these numbers as a list file and dates it (mtime), so that a rewrite is always seen as changed. */
export function writeNumbers(path: string, indexes: readonly number[], mtimeMs: number): void {
  writeFileSync(path, `${indexes.map(fr).join('\n')}\n`);
  utimesSync(path, mtimeMs / 1000, mtimeMs / 1000);
}

/**
 * Writes `{dir}/callgate.json` naming a deny-list `bloctel` and a consent list `consents` at these paths,
 * with these policies and campaigns; returns its path.
 */
export function writeConsentConfig(dir: string, paths: { readonly bloctel: string; readonly consents: string }, rules: { readonly policies: object; readonly campaigns: object }): string {
  const config = join(dir, 'callgate.json');
  writeFileSync(
    config,
    JSON.stringify({
      lists: [
        { name: 'bloctel', kind: 'deny', source: paths.bloctel },
        { name: 'consents', kind: 'allow', role: 'consent', source: paths.consents },
      ],
      policies: rules.policies,
      campaigns: rules.campaigns,
    }),
  );
  return config;
}
