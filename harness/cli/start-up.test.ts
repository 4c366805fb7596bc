/**
 * The start-up build (scripts/build.mjs, bin/entry.js): a manifest is fresh only while none of its
 * inputs changed; the CLI runs from dist/ when it is fresh and from the sources otherwise, with the
 * same output.
 */
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, freshBuild, REPO } from '../../bin/entry.js';

const scratch = mkdtempSync(join(tmpdir(), `otwin-build-${process.pid.toString(36)}-`));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('start-up build', () => {
  it('is fresh until an input changes or disappears', () => {
    const input = join(scratch, 'a.ts');
    writeFileSync(input, 'export {};\n');
    const manifest = join(scratch, 'manifest.json');
    const builtAt = Date.now() + 1000;
    writeFileSync(manifest, JSON.stringify({ builtAt, inputs: ['a.ts'], entries: { 'a.ts': 'a.js' } }));
    utimesSync(input, new Date(builtAt - 5000), new Date(builtAt - 5000));
    expect(freshBuild(manifest, scratch)?.entries['a.ts']).toBe('a.js');
    utimesSync(input, new Date(builtAt + 5000), new Date(builtAt + 5000));
    expect(freshBuild(manifest, scratch)).toBeUndefined();
    rmSync(input);
    expect(freshBuild(manifest, scratch)).toBeUndefined();
    expect(freshBuild(join(scratch, 'missing.json'), scratch)).toBeUndefined();
  });

  it('compiles every entry point, and the CLI says the same from the build and from the sources', async () => {
    await execa(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { cwd: REPO });
    const manifest = freshBuild();
    expect(manifest).toBeDefined();
    for (const entry of ['harness/cli/main.ts', 'reference-impl/bin/agent.ts', 'reference-impl/driver.ts'])
      expect(existsSync(join(BUILD_DIR, manifest!.entries[entry]!))).toBe(true);
    const otwin = join(REPO, 'bin', 'otwin.js');
    const built = await execa(process.execPath, [otwin, '--help'], { cwd: REPO });
    const sources = await execa(process.execPath, [otwin, '--help'], {
      cwd: REPO,
      env: { OTWIN_FROM_SOURCE: '1' },
    });
    expect(built.stdout).toContain('usage: otwin <command>');
    expect(built.stdout).toBe(sources.stdout);
  });
});
