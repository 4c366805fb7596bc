/** `otwin compare` on hand-written run records and Allure results (fixtures/hand-written.ts). */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOGUE } from '../scenario/catalogue.ts';
import {
  type FixtureVerdict,
  handWrittenRecord,
  scratchDir,
  writeAllureResults,
  writeRecord,
} from './fixtures/hand-written.ts';
import { loadColumns } from './load.ts';
import { renderHtml } from './render-html.ts';
import { renderMarkdown } from './render-md.ts';
import { buildTable } from './table.ts';

const dir = scratchDir('unit');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD: FixtureVerdict[] = [
  { ids: ['GW-1'], status: 'passed', figures: { measuredMs: 420, budgetMs: 5000 } },
  { ids: ['GW-3', 'GW-5'], status: 'passed', figures: { measuredMs: 900, budgetMs: 5000 } },
  { ids: ['GW-6'], status: 'passed', figures: { lossWindowMs: 80, lossBoundMs: 2000 } },
  { ids: ['GW-7'], status: 'skipped', message: 'profile ovsdb has no EVPN gateway' },
];

const otwin = (...args: string[]) =>
  execa(process.execPath, [resolve('bin/otwin.js'), 'compare', ...args], { reject: false, all: true });

describe('otwin compare: the table', () => {
  it('has every catalogue ID, in order; IDs no run covers show as not covered', () => {
    const a = writeRecord(
      dir,
      'a',
      handWrittenRecord({
        implementation: 'ref',
        runId: 'r1',
        startedAt: '2026-12-01T00:00:00Z',
        verdicts: GOOD,
      }),
    );
    const b = writeRecord(
      dir,
      'b',
      handWrittenRecord({
        implementation: 'frr-evpn',
        runId: 'r2',
        startedAt: '2026-12-01T00:00:00Z',
        verdicts: GOOD,
      }),
    );
    const table = buildTable(loadColumns([{ path: a }, { path: b }]));
    expect(table.rows.map((r) => r.id)).toEqual([...CATALOGUE.keys()]);
    const vx1 = table.rows.find((r) => r.id === 'VX-1')!;
    expect(vx1.cells.map((c) => c.status)).toEqual(['not covered', 'not covered']);
    const gw5 = table.rows.find((r) => r.id === 'GW-5')!;
    expect(gw5.cells[0]).toMatchObject({ status: 'passed', figures: { measuredMs: 900, budgetMs: 5000 } });
    expect(table.rows.every((r) => !r.differs)).toBe(true);
    const md = renderMarkdown(table);
    expect(md).toContain('| VX-1 | · not covered | · not covered |');
    expect(md).toContain('✅ passed<br>900 / 5000 ms');
    expect(md).toContain('loss 80 / 2000 ms');
  });

  it('names columns by implementation and gateway profile, one per profile of an Allure folder', () => {
    const results = join(dir, 'allure-two-profiles');
    writeAllureResults(results, { implementation: 'reference', gateway: 'ovsdb', runId: 'r9' }, GOOD);
    writeAllureResults(results, { implementation: 'reference', gateway: 'evpn', runId: 'r9' }, [
      { ids: ['GW-1'], status: 'skipped', message: 'no OVSDB on an EVPN gateway' },
      { ids: ['GW-7'], status: 'passed', figures: { measuredMs: 1200, budgetMs: 5000, p95Ms: 310 } },
    ]);
    const columns = loadColumns([{ path: results }]);
    expect(columns.map((c) => c.name)).toEqual(['reference / evpn', 'reference / ovsdb']);
    const table = buildTable(columns);
    const gw7 = table.rows.find((r) => r.id === 'GW-7')!;
    expect(gw7.cells.map((c) => c.status)).toEqual(['passed', 'skipped']);
    expect(gw7.changed).toEqual([false, true]);
    expect(gw7.cells[1]!.detail).toBe('profile ovsdb has no EVPN gateway');
    expect(table.rows.find((r) => r.id === 'SG-1')!.cells[0]!.status).toBe('not covered');
    const html = renderHtml(table, 'now');
    expect(html).toContain('p95 310 ms');
    expect(html).toMatch(/<td class="passed">passed<small>1200 \/ 5000 ms/);
    expect(html).toContain('<td class="skipped changed" title="profile ovsdb has no EVPN gateway">');
    // Self-contained: nothing fetched from anywhere.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('shows two releases of one implementation side by side, told apart by --label or by run', () => {
    const v1 = writeRecord(
      join(dir, 'v1'),
      'rec',
      handWrittenRecord({
        implementation: 'ref',
        runId: 'r-v1',
        startedAt: '2026-12-01T00:00:00Z',
        verdicts: GOOD,
      }),
    );
    const v2 = writeRecord(
      join(dir, 'v2'),
      'rec',
      handWrittenRecord({
        implementation: 'ref',
        runId: 'r-v2',
        startedAt: '2026-12-02T00:00:00Z',
        verdicts: [
          { ids: ['GW-1'], status: 'passed', figures: { measuredMs: 3100, budgetMs: 5000 } },
          {
            ids: ['GW-3', 'GW-5'],
            status: 'failed',
            message: 'GW-3: MAC 02:00:00:00:00:01 missing from Ucast_Macs_Remote',
          },
        ],
      }),
    );
    expect(loadColumns([{ path: v1 }, { path: v2 }]).map((c) => c.name)).toEqual([
      'ref (r-v1)',
      'ref (r-v2)',
    ]);
    const table = buildTable(
      loadColumns([
        { path: v1, label: '1.0' },
        { path: v2, label: '1.1' },
      ]),
      0,
    );
    expect(table.columns.map((c) => c.name)).toEqual(['1.0', '1.1']);
    expect(table.regressions.map((r) => `${r.id} ${r.status}`)).toEqual(['GW-3 failed', 'GW-5 failed']);
    // GW-6 passed in 1.0 and is not covered in 1.1: a difference, not a failure.
    expect(table.rows.find((r) => r.id === 'GW-6')!.differs).toBe(true);
    expect(renderMarkdown(table)).toContain('**❌ failed**');
  });

  it('reads a folder of records as the latest run of each profile', () => {
    const runs = join(dir, 'runs');
    writeRecord(
      runs,
      'old',
      handWrittenRecord({
        implementation: 'ref',
        gateway: 'ovsdb',
        runId: 'old',
        startedAt: '2026-11-01T00:00:00Z',
        verdicts: [{ ids: ['GW-1'], status: 'failed' }],
      }),
    );
    writeRecord(
      runs,
      'new',
      handWrittenRecord({
        implementation: 'ref',
        gateway: 'ovsdb',
        runId: 'new',
        startedAt: '2026-12-01T00:00:00Z',
        verdicts: GOOD,
      }),
    );
    const [column] = loadColumns([{ path: runs }]);
    expect(column!.runId).toBe('new');
    expect(column!.cells.get('GW-1')!.status).toBe('passed');
  });
});

describe('otwin compare: the CLI and its --baseline gate', () => {
  const base = writeRecord(
    join(dir, 'cli'),
    'base',
    handWrittenRecord({
      implementation: 'reference',
      gateway: 'ovsdb',
      runId: 'b',
      startedAt: '2026-12-01T00:00:00Z',
      verdicts: GOOD,
    }),
  );
  const same = writeRecord(
    join(dir, 'cli'),
    'same',
    handWrittenRecord({
      implementation: 'frr-evpn',
      gateway: 'evpn',
      runId: 's',
      startedAt: '2026-12-01T00:00:00Z',
      verdicts: [...GOOD.slice(0, 3), { ids: ['GW-7'], status: 'passed' }],
    }),
  );
  const worse = writeRecord(
    join(dir, 'cli'),
    'worse',
    handWrittenRecord({
      implementation: 'vendor-x',
      gateway: 'ovsdb',
      runId: 'w',
      startedAt: '2026-12-01T00:00:00Z',
      verdicts: [...GOOD.slice(0, 2), { ids: ['GW-6'], status: 'broken', message: 'ovsdb-server went away' }],
    }),
  );

  it('passes the gate when no column fails an ID the baseline passed, and writes both tables', async () => {
    const out = join(dir, 'out-pass');
    const r = await otwin(base, same, '--baseline', base, '--out', out);
    expect(r.all).toContain('no column fails an ID the baseline (reference / ovsdb) passes');
    expect(r.exitCode).toBe(0);
    expect(r.all).toContain(`html: ${join(out, 'compare.html')}`);
    expect(readFileSync(join(out, 'compare.md'), 'utf8')).toContain(
      '| ID | reference / ovsdb (baseline) | frr-evpn / evpn |',
    );
    expect(existsSync(join(out, 'compare.html'))).toBe(true);
  });

  it('fails the gate (exit 1) when a column regresses, listing what', async () => {
    const out = join(dir, 'out-fail');
    const r = await otwin(same, worse, '--baseline', base, '--out', out, '--label', `vendor X 2.0=${worse}`);
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain('1 regression(s) against the baseline (reference / ovsdb):');
    expect(r.all).toContain('GW-6: broken in vendor X 2.0 (ovsdb-server went away)');
    expect(readFileSync(join(out, 'compare.md'), 'utf8')).toContain('### ❌ 1 regression(s)');
  });

  it('refuses bad input with exit 2, naming it, without a stack trace', async () => {
    const garbage = join(dir, 'garbage');
    writeRecord(
      garbage,
      'ok',
      handWrittenRecord({
        implementation: 'ref',
        runId: 'g',
        startedAt: '2026-12-01T00:00:00Z',
        verdicts: GOOD,
      }),
    );
    writeFileSync(join(garbage, 'package.json'), '{"name":"not a run"}');
    for (const [args, says] of [
      [[base, join(dir, 'nope')], `no such run or folder: ${join(dir, 'nope')}`],
      [[base, garbage], `${join(garbage, 'package.json')} is not an otwin run record`],
      [
        [base, resolve('harness/compare')],
        `${resolve('harness/compare')} holds no run records or Allure results`,
      ],
      [[base], `compare needs at least two runs; ${base} holds one (reference / ovsdb)`],
      [[base, same, '--label', 'oops'], '--label oops: expected <name>=<run>'],
    ] as const) {
      const r = await otwin(...args);
      expect(r.exitCode, r.all).toBe(2);
      expect(r.all).toContain(says);
      expect(r.all).not.toMatch(/\n\s+at .*:\d+/);
    }
  });
});
