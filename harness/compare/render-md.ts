/**
 * The comparison as GitHub-flavoured Markdown for a pull-request comment: the columns, the baseline
 * verdict, the rows that differ, and every catalogue ID folded in a <details> block (a PR comment
 * must stay readable with the whole catalogue in it).
 */

import { type CompareTable, columnCounts, figureTexts, type Row, regressionLines } from './table.ts';
import type { Cell } from './types.ts';

const MARK: Record<Cell['status'], string> = {
  passed: '✅ passed',
  failed: '❌ failed',
  broken: '💥 broken',
  skipped: '⏭️ skipped',
  'not covered': '· not covered',
};

const escapeCell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function cellText(cell: Cell, changed: boolean): string {
  const head = changed ? `**${MARK[cell.status]}**` : MARK[cell.status];
  return [head, ...figureTexts(cell.figures)].map(escapeCell).join('<br>');
}

function table(t: CompareTable, rows: Row[]): string[] {
  const head = `| ID | ${t.columns.map((c, i) => escapeCell(c.name) + (i === t.baseline ? ' (baseline)' : '')).join(' | ')} |`;
  const rule = `|---|${t.columns.map(() => '---').join('|')}|`;
  const body = rows.map(
    (r) =>
      `| ${r.differs ? `**${r.id}**` : r.id} | ${r.cells.map((c, i) => cellText(c, r.changed[i]!)).join(' | ')} |`,
  );
  return [head, rule, ...body];
}

export function renderMarkdown(t: CompareTable): string {
  const lines = ['## otwin compare', ''];
  t.columns.forEach((c, i) => {
    const n = columnCounts(t, i);
    lines.push(
      `- **${escapeCell(c.name)}**${i === t.baseline ? ' (baseline)' : ''}: ${n.passed} passed, ${n.failed} failed, ${n.broken} broken, ${n.skipped} skipped, ${n['not covered']} not covered — ${c.kind} \`${c.input}\`${c.runId ? `, run ${c.runId}` : ''}`,
    );
  });
  const gate = regressionLines(t);
  if (gate.length > 0) lines.push('', t.regressions.length > 0 ? `### ❌ ${gate[0]}` : `✅ ${gate[0]}`);
  for (const line of gate.slice(1)) lines.push(`- ${escapeCell(line.trim())}`);
  const differing = t.rows.filter((r) => r.differs);
  lines.push('', `### ${differing.length} of ${t.rows.length} catalogue IDs differ between the columns`, '');
  if (differing.length > 0) lines.push(...table(t, differing), '');
  lines.push('<details><summary>Every catalogue ID</summary>', '', ...table(t, t.rows), '', '</details>', '');
  return lines.join('\n');
}
