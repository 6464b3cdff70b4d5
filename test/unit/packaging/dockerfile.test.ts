/**
 * The Docker image runs a supported Node LTS (no Docker engine in CI: the Dockerfile is read, not built).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const SUPPORTED_LTS_MAJORS = [22, 24];

describe('Dockerfile', () => {
  it('builds and runs on one supported Node LTS image, and the engines field admits it', () => {
    const text = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
    const arg = /^ARG NODE_IMAGE=node:(\d+)-[\w.-]+$/m.exec(text);
    const froms = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    // Both stages on the one ARG, so the build and the runtime never differ.
    for (const from of froms) expect(from).toBe('${NODE_IMAGE}');
    expect(SUPPORTED_LTS_MAJORS).toContain(Number(arg?.[1]));
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    const floor = /^>=(\d+)\./.exec(pkg.engines.node);
    expect(Number(floor?.[1])).toBeLessThanOrEqual(Number(arg?.[1]));
  });

  it('copies into the build stage every script the build command runs', () => {
    const text = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: { build: string } };
    const used = [...pkg.scripts.build.matchAll(/\bnode (\S+)/g)].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(0);
    for (const file of used) expect(text).toMatch(new RegExp(`^COPY ${String(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `, 'm'));
  });
});
