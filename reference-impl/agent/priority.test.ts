/**
 * The agent's priority: its own nice value and, with autogroup scheduling, its session's. Run in a
 * child in a session of its own (as every lab node is), so the test runner's session is untouched.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/util/exec.ts';

const dir = mkdtempSync(join(tmpdir(), 'otwin-priority-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('agent priority', () => {
  it('sets the nice value of the process and of its session (autogroup)', async () => {
    const script = join(dir, 'child.mts');
    writeFileSync(
      script,
      [
        `import { getPriority } from 'node:os';`,
        `import { existsSync, readFileSync } from 'node:fs';`,
        `import { raisePriority } from ${JSON.stringify(join(import.meta.dirname, 'priority.ts'))};`,
        'const problems = raisePriority(-3);',
        `const autogroup = existsSync('/proc/self/autogroup') ? readFileSync('/proc/self/autogroup', 'utf8').trim() : null;`,
        'console.log(JSON.stringify({ problems, nice: getPriority(), autogroup }));',
      ].join('\n'),
    );
    // setsid: a session (and so an autogroup) of its own.
    const out = await run('setsid', ['--wait', process.execPath, '--import', 'tsx', script], {
      timeoutMs: 60_000,
    });
    expect(out.exitCode, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout.trim().split('\n').pop() as string) as {
      problems: string[];
      nice: number;
      autogroup: string | null;
    };
    expect(result.problems).toEqual([]);
    expect(result.nice).toBe(-3);
    if (existsSync('/proc/self/autogroup')) expect(result.autogroup).toMatch(/ nice -3$/);
  });
});
