/**
 * The side-by-side table: one row per catalogue ID (all of them, in catalogue order; IDs that results
 * carry but the catalogue does not come last), one cell per column. A cell is highlighted when its
 * verdict differs from the reference column (the baseline, else the first); a regression is a column
 * failing or breaking an ID the baseline passed.
 */

import { CATALOGUE } from '../scenario/catalogue.ts';
import type { VerdictFigures } from '../scenario/record.ts';
import type { Cell, Column } from './types.ts';

export interface Row {
  id: string;
  /** Catalogue group heading, or "not in the catalogue". */
  group: string;
  cells: Cell[];
  /** Per column: the verdict differs from the reference column's. */
  changed: boolean[];
  differs: boolean;
}

export interface Regression {
  id: string;
  column: string;
  status: Cell['status'];
  detail: string | undefined;
}

export interface CompareTable {
  columns: Column[];
  /** Index of the baseline column, if any. */
  baseline: number | undefined;
  rows: Row[];
  regressions: Regression[];
}

const NOT_COVERED: Cell = { status: 'not covered', results: 0, figures: {}, detail: undefined };

export function buildTable(columns: Column[], baseline?: number): CompareTable {
  const ids = [...CATALOGUE.keys()];
  for (const c of columns) for (const id of c.cells.keys()) if (!ids.includes(id)) ids.push(id);
  const reference = baseline ?? 0;
  const regressions: Regression[] = [];
  const rows = ids.map((id): Row => {
    const cells = columns.map((c) => c.cells.get(id) ?? NOT_COVERED);
    const changed = cells.map((cell) => cell.status !== cells[reference]!.status);
    if (baseline !== undefined && cells[baseline]!.status === 'passed') {
      cells.forEach((cell, i) => {
        if (i !== baseline && (cell.status === 'failed' || cell.status === 'broken')) {
          regressions.push({ id, column: columns[i]!.name, status: cell.status, detail: cell.detail });
        }
      });
    }
    return {
      id,
      group: CATALOGUE.get(id)?.group ?? 'not in the catalogue',
      cells,
      changed,
      differs: changed.some(Boolean),
    };
  });
  return { columns, baseline, rows, regressions };
}

/** `420 / 1000 ms`, `loss 80 / 500 ms`, `p95 12 ms`: the figures a cell shows under its verdict. */
export function figureTexts(f: VerdictFigures): string[] {
  const out: string[] = [];
  if (f.measuredMs !== undefined)
    out.push(f.budgetMs ? `${f.measuredMs} / ${f.budgetMs} ms` : `${f.measuredMs} ms (no budget)`);
  if (f.lossWindowMs !== undefined)
    out.push(`loss ${f.lossWindowMs}${f.lossBoundMs !== undefined ? ` / ${f.lossBoundMs}` : ''} ms`);
  if (f.p95Ms !== undefined) out.push(`p95 ${f.p95Ms} ms`);
  return out;
}

/** Counts of verdicts per column, for the summary line. */
export function columnCounts(table: CompareTable, column: number): Record<Cell['status'], number> {
  const counts = { passed: 0, failed: 0, broken: 0, skipped: 0, 'not covered': 0 };
  for (const row of table.rows) counts[row.cells[column]!.status] += 1;
  return counts;
}

export function regressionLines(table: CompareTable): string[] {
  if (table.baseline === undefined) return [];
  const base = table.columns[table.baseline]!.name;
  if (table.regressions.length === 0) return [`no column fails an ID the baseline (${base}) passes`];
  return [
    `${table.regressions.length} regression(s) against the baseline (${base}):`,
    ...table.regressions.map(
      (r) => `  ${r.id}: ${r.status} in ${r.column}${r.detail ? ` (${r.detail})` : ''}`,
    ),
  ];
}
