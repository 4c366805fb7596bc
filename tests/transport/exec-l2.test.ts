/**
 * The L2 pack with the exec traffic transport forced on the netns runtime (`otwin run scenarios/l2
 * --transport exec`, through the engine's launch API on a private copy of the default lab): every
 * probe, listener and capture goes through a probe server started inside a node by its exec, as on
 * containerlab on another host or clabernetes. Every verdict must pass; none broken, none skipped.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecord } from '../../harness/scenario/record.ts';
import { type LaunchResult, launch, renderSummary } from '../../harness/scenario/suite/launch.ts';
import { type PrivateLab, privateLab, REPO } from '../sabotage/fixtures/private-lab.ts';

let lab: PrivateLab;
let result: LaunchResult;

describe('exec transport: the L2 pack passes', () => {
  beforeAll(async () => {
    lab = privateLab('exec', {});
    const pack = resolve(REPO, 'scenarios', 'l2');
    result = await launch({
      files: readdirSync(pack)
        .filter((f) => f.endsWith('.yml'))
        .map((f) => join(pack, f)),
      lab: lab.file,
      runtime: 'netns',
      transport: 'exec',
      reportsDir: join(lab.dir, 'reports'),
      stdio: 'pipe',
      implementation: 'reference',
    });
  }, 600_000);
  afterAll(() => lab?.remove());

  it('passes every verdict of L2-1..L2-3 over servers inside the nodes', () => {
    const summary = renderSummary(result);
    expect(result.output, summary).toMatch(/traffic: exec transport/);
    const verdicts = result.summary.records.flatMap((file) => readRecord(file).verdicts);
    expect(new Set(verdicts.flatMap((v) => v.conformance)), summary).toEqual(
      new Set(['L2-1', 'L2-2', 'L2-3']),
    );
    expect(
      verdicts.filter((v) => v.status !== 'passed').map((v) => `${v.status}: ${v.name}: ${v.message ?? ''}`),
      summary,
    ).toEqual([]);
  });
});
