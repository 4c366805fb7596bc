/** Which scenarios run together (lanes), and that merged results come back in the run's order. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_CONCURRENCY,
  inFileOrder,
  laneFile,
  MAX_LANES,
  parseConcurrency,
  planLanes,
} from './lanes.ts';
import { mergeSummaries, type WorkerSummary } from './launch.ts';

const on = (lab: string | undefined, ...files: string[]) => files.map((file) => ({ file, lab }));

describe('planLanes', () => {
  // The default suite's shape: many scenarios on the default lab, one each on two federation labs,
  // the federation ones in the middle of the file order.
  const suite = [
    ...on('/labs/default.clab.yml', 'vx/1', 'l2/1', 'fed/0'),
    ...on('/labs/fed-vpn.clab.yml', 'fed/2'),
    ...on('/labs/default.clab.yml', 'fed/3'),
    ...on('/labs/fed-gr.clab.yml', 'fed/5'),
    ...on('/labs/default.clab.yml', 'nat/1'),
  ];

  it('gives every lab a lane of its own, largest first, files in their run order', () => {
    expect(planLanes(suite, 2)).toEqual([['vx/1', 'l2/1', 'fed/0', 'fed/3', 'nat/1'], ['fed/2'], ['fed/5']]);
  });

  it('never splits one lab over two lanes: its scenarios run one after another', () => {
    for (const concurrency of [2, 3, 4, 8]) {
      const lanes = planLanes(suite, concurrency);
      for (const lab of new Set(suite.map((s) => s.lab))) {
        const holding = lanes.filter((lane) => suite.some((s) => s.lab === lab && lane.includes(s.file)));
        expect(holding).toHaveLength(1);
      }
      expect(lanes.flat().sort()).toEqual(suite.map((s) => s.file).sort());
    }
  });

  it('with concurrency 1 runs everything in one lane in the given order (the sequential run)', () => {
    expect(planLanes(suite, 1)).toEqual([suite.map((s) => s.file)]);
  });

  it('with one lab keeps one lane whatever the concurrency', () => {
    expect(planLanes(on('/labs/a.clab.yml', 'x', 'y', 'z'), 4)).toEqual([['x', 'y', 'z']]);
  });

  it('treats two spellings of one lab path as one lab', () => {
    expect(planLanes([...on('/labs/a.clab.yml', 'x'), ...on('/labs/../labs/a.clab.yml', 'y')], 4)).toEqual([
      ['x', 'y'],
    ]);
  });

  it('packs labs beyond the lane files onto the lane with the fewest scenarios', () => {
    const many = [
      ...on('/a', 'a1', 'a2', 'a3', 'a4'),
      ...on('/b', 'b1', 'b2', 'b3'),
      ...on('/c', 'c1', 'c2'),
      ...on('/d', 'd1', 'd2'),
      ...on('/e', 'e1'),
      ...on('/f', 'f1'),
    ];
    const lanes = planLanes(many, 8);
    expect(lanes).toHaveLength(MAX_LANES);
    expect(lanes).toEqual([
      ['a1', 'a2', 'a3', 'a4'],
      ['b1', 'b2', 'b3'],
      ['c1', 'c2', 'e1'],
      ['d1', 'd2', 'f1'],
    ]);
  });

  it('puts a file that did not load on lane 0, where it is reported broken', () => {
    const lanes = planLanes([...on('/a', 'a1'), ...on(undefined, 'bad'), ...on('/b', 'b1')], 2);
    expect(lanes[0]).toContain('bad');
    expect(lanes.flat().sort()).toEqual(['a1', 'b1', 'bad']);
  });
});

describe('lane files and --concurrency', () => {
  it('lane 0 is the suite file a one-lane run always used', () => {
    expect(laneFile(0)).toBe('harness/scenario/suite/scenarios.suite.ts');
    expect(laneFile(3)).toBe('harness/scenario/suite/lanes/lane-3.suite.ts');
    expect(() => laneFile(MAX_LANES)).toThrow(RangeError);
  });

  it('defaults to one lane (the sequential run), caps at the lane files, and rejects nonsense', () => {
    expect(parseConcurrency(undefined)).toBe(DEFAULT_CONCURRENCY);
    expect(parseConcurrency('1')).toBe(1);
    expect(parseConcurrency('64')).toBe(MAX_LANES);
    for (const bad of ['0', '-1', '1.5', 'two']) expect(() => parseConcurrency(bad)).toThrow(/whole number/);
  });
});

describe('results merged from lanes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otwin-lanes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('inFileOrder sorts by file position and keeps the order within a file', () => {
    const items = [
      { f: 'c', n: 1 },
      { f: 'a', n: 1 },
      { f: 'c', n: 2 },
      { f: 'a', n: 2 },
      { f: undefined, n: 0 },
    ];
    expect(inFileOrder(items, (i) => i.f, ['a', 'b', 'c']).map((i) => `${i.f}${i.n}`)).toEqual([
      'a1',
      'a2',
      'c1',
      'c2',
      'undefined0',
    ]);
  });

  it('mergeSummaries gives the same verdict order whichever lane finished first', () => {
    const verdict = (file: string, name: string) => ({
      scenario: file,
      file,
      name,
      status: 'passed' as const,
      area: 'data plane',
    });
    const lane0: WorkerSummary = {
      verdicts: [verdict('/s/vx-1', 'x'), verdict('/s/fed-3', 'y'), verdict('/s/nat-1', 'z')],
      lossWindows: [{ name: 'vx-1 window', ms: 10, boundMs: 100 }],
      records: [],
    };
    const lane1: WorkerSummary = {
      verdicts: [verdict('/s/fed-2', 'p'), verdict('/s/fed-2', 'q')],
      lossWindows: [],
      records: [],
    };
    const files = ['/s/vx-1', '/s/fed-2', '/s/fed-3', '/s/nat-1'];
    writeFileSync(join(dir, '0.json'), JSON.stringify(lane0));
    writeFileSync(join(dir, '1.json'), JSON.stringify(lane1));
    const forward = mergeSummaries([join(dir, '0.json'), join(dir, '1.json')], files);
    const backward = mergeSummaries([join(dir, '1.json'), join(dir, '0.json')], files);
    const names = (s: WorkerSummary) => s.verdicts.map((v) => v.name);
    expect(names(forward)).toEqual(['x', 'p', 'q', 'y', 'z']);
    expect(names(backward)).toEqual(names(forward));
    expect(forward.lossWindows).toHaveLength(1);
  });

  it('mergeSummaries reads what the lanes wrote: a lane that never started adds nothing', () => {
    expect(mergeSummaries([join(dir, 'missing.json')], [])).toEqual({
      verdicts: [],
      lossWindows: [],
      records: [],
    });
  });
});
