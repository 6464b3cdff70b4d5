/**
 * The README is a landing page pointing into docs/, and docs/ files point at each other and at the code:
 * every relative link (and image) must reach a file that exists, every `#anchor` a heading of its file
 * (GitHub's slugs), and the design's file map must name every folder of src/, so a move that forgets the
 * docs fails here rather than in a reader's browser.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Markdown outside fenced code blocks (an example may contain `](`). */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = prose(readFileSync(join(ROOT, file), 'utf8'));
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] as string)));
}

describe('README.md and docs/', () => {
  it.each(PAGES)('%s: every relative link and image reaches a file, every anchor a heading', (page) => {
    const text = prose(readFileSync(join(ROOT, page), 'utf8'));
    const broken: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1] as string;
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const file = path === '' ? page : relative(ROOT, join(ROOT, dirname(page), path));
      if (!existsSync(join(ROOT, file))) {
        broken.push(`${target} (no file ${file})`);
        continue;
      }
      if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(file).has(anchor)) broken.push(`${target} (no heading #${anchor} in ${file})`);
    }
    expect(broken).toEqual([]);
  });

  it('docs/design.md maps every folder of src/', () => {
    const design = readFileSync(join(ROOT, 'docs/design.md'), 'utf8');
    const folders = readdirSync(join(ROOT, 'src')).filter((f) => statSync(join(ROOT, 'src', f)).isDirectory());
    expect(folders.length).toBeGreaterThan(0);
    for (const folder of folders) expect(design, folder).toContain(`| \`src/${folder}/\` |`);
  });

  it('the README stays a landing page (docs/ holds the rest)', () => {
    const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length;
    expect(lines).toBeLessThanOrEqual(220);
  });
});
