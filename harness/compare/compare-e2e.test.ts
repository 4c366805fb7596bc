/**
 * `otwin compare` on real runs: two `otwin run` of a small FRR EVPN scenario (route reflector, two VTEP
 * leaves, two hosts) into two private reports folders, the second with an expectation that cannot
 * hold; then compare them with the first as the baseline. No benchmark, no shared lab name.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { netnsList } from '../kernel/netns.ts';
import { SMALL_EVPN_INTENT, smallEvpnLab } from '../scenario/fixtures/small-evpn-lab.ts';
import { readRecord } from '../scenario/record.ts';

const LAB_NAME = `otwin-h6-cmp-${process.pid.toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'otwin-h6-compare-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const lab = write('small.clab.yml', smallEvpnLab(LAB_NAME, '172.20.166.0/24'));

/** The same scenario in both runs; the second release gets a matrix cell that cannot hold. */
const scenario = (name: string, overrides: string) =>
  write(
    name,
    `name: compare e2e
conformance: [L2-1]
lab: ${lab}
${SMALL_EVPN_INTENT}
timeline:
  - provision: all
  - name: both hosts reach each other
    expect: { within: 20s, matrix: { probes: [icmp]${overrides} } }
`,
  );

const otwin = (...args: string[]) =>
  execa(process.execPath, [resolve('bin/otwin.js'), ...args], { reject: false, all: true });

describe('otwin compare on two real runs', () => {
  it('the baseline gate fails on the run that regressed, with the figures of both', async () => {
    const good = join(dir, 'reports-good');
    const bad = join(dir, 'reports-bad');
    const r1 = await otwin('run', scenario('good.yml', ''), '--reports', good);
    expect(r1.exitCode, r1.all).toBe(0);
    const wrong =
      ', overrides: [{ from: h1, to: h2, expect: drop, reason: deliberately wrong for the test }]';
    const r2 = await otwin('run', scenario('bad.yml', wrong), '--reports', bad);
    expect(r2.exitCode, r2.all).toBe(1);
    expect((await netnsList()).filter((n) => n.includes(LAB_NAME))).toEqual([]);

    // The run's Allure result carries the lab's picture (SVG) beside its YAML.
    const results = join(good, 'allure-results');
    const pictures = readdirSync(results)
      .filter((f) => f.endsWith('-attachment.svg'))
      .map((f) => readFileSync(join(results, f), 'utf8'));
    expect(pictures).toHaveLength(1);
    expect(pictures[0]).toContain(`lab ${LAB_NAME}: mgmt network`);
    // The passing verdict recorded its time against its budget.
    const [file] = readdirSync(join(good, 'runs')).filter((f) => f.endsWith('.json'));
    const verdict = readRecord(join(good, 'runs', file!)).verdicts.find((v) => v.status === 'passed');
    expect(verdict?.figures).toEqual({ measuredMs: expect.any(Number), budgetMs: 20_000 });
    const out = join(dir, 'compare');
    const c = await otwin(
      'compare',
      good,
      bad,
      '--baseline',
      good,
      '--label',
      `1.0=${good}`,
      '--label',
      `1.1=${bad}`,
      '--out',
      out,
    );
    expect(c.exitCode, c.all).toBe(1);
    expect(c.all).toContain('1 regression(s) against the baseline (1.0):');
    expect(c.all).toMatch(/L2-1: failed in 1\.1/);
    const md = readFileSync(join(out, 'compare.md'), 'utf8');
    expect(md).toMatch(
      /\| \*\*L2-1\*\* \| ✅ passed<br>\d+ \/ 20000 ms \| \*\*❌ failed\*\*<br>\d+ \/ 20000 ms \|/,
    );
    expect(md).toContain('| SG-1 | · not covered | · not covered |');
    // The run records say the same as the Allure results.
    const records = await otwin(
      'compare',
      join(good, 'runs'),
      join(bad, 'runs'),
      '--out',
      join(dir, 'records'),
    );
    expect(records.exitCode, records.all).toBe(0);
    expect(readFileSync(join(dir, 'records', 'compare.md'), 'utf8')).toMatch(/\*\*L2-1\*\*/);
  });
});
