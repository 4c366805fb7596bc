/**
 * Cyclonus-style renderings of a MatrixResult: for each (protocol, port) one table of sources (rows)
 * × destinations (columns) in three views — expected, actual, mismatch. Used as report attachments.
 */
import { type CellResult, columnKey, type Expectation, type MatrixResult } from './matrix.ts';
import type { Verdict } from './types.ts';

export type MatrixFormat = 'text' | 'markdown' | 'html';
export type MatrixView = 'expected' | 'actual' | 'mismatch';

const SYMBOL: Record<Verdict | Expectation, string> = {
  allowed: '.',
  blocked: 'X',
  dropped: 'X',
  refused: 'R',
  unreachable: 'U',
  error: 'E',
};

export const LEGEND =
  '. allowed · X blocked/dropped · R refused (RST/ICMP) · U unreachable (no route) · E probe error; mismatch view: . same, X differs';

function symbolFor(view: MatrixView, cell: CellResult | undefined): string {
  if (!cell) return '';
  if (view === 'expected') return SYMBOL[cell.cell.expected];
  if (view === 'actual') return SYMBOL[cell.actual];
  return cell.ok ? '.' : 'X';
}

interface Grid {
  column: string;
  view: MatrixView;
  rows: string[];
  cols: string[];
  cell(row: string, col: string): CellResult | undefined;
}

function grids(result: MatrixResult, views: MatrixView[]): Grid[] {
  const index = new Map<string, CellResult>();
  for (const r of result.cells) {
    index.set(
      `${columnKey(r.cell.proto, r.cell.port, r.cell.sport)}|${r.cell.from.name}|${r.cell.to.name}`,
      r,
    );
  }
  const out: Grid[] = [];
  for (const column of result.columns) {
    for (const view of views) {
      out.push({
        column,
        view,
        rows: result.sources,
        cols: result.destinations,
        cell: (row, col) => index.get(`${column}|${row}|${col}`),
      });
    }
  }
  return out;
}

function summary(result: MatrixResult): string {
  return `${result.cells.length} cells, ${result.mismatches.length} mismatches, ${Math.round(result.elapsedMs)} ms (${Math.round(result.probesPerSecond)} probes/s)`;
}

function renderText(result: MatrixResult, views: MatrixView[]): string {
  const lines: string[] = [summary(result), LEGEND, ''];
  for (const grid of grids(result, views)) {
    const width = Math.max(3, ...grid.cols.map((c) => c.length));
    const rowWidth = Math.max(...grid.rows.map((r) => r.length), 4);
    lines.push(`${grid.column} — ${grid.view}`);
    lines.push(`${' '.repeat(rowWidth)} | ${grid.cols.map((c) => c.padEnd(width)).join(' ')}`);
    lines.push(`${'-'.repeat(rowWidth)}-+-${grid.cols.map(() => '-'.repeat(width)).join('-')}`);
    for (const row of grid.rows) {
      lines.push(
        `${row.padEnd(rowWidth)} | ${grid.cols.map((col) => symbolFor(grid.view, grid.cell(row, col)).padEnd(width)).join(' ')}`,
      );
    }
    lines.push('');
  }
  if (result.mismatches.length > 0) {
    lines.push('mismatches:');
    for (const m of result.mismatches) lines.push(`  ${describeCell(m)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function describeCell(r: CellResult): string {
  return `${r.cell.from.name} → ${r.cell.to.name} (${r.cell.to.address}) ${columnKey(r.cell.proto, r.cell.port, r.cell.sport)}: expected ${r.cell.expected}, got ${r.actual}${r.probe.detail ? ` (${r.probe.detail})` : ''}`;
}

function escapeMd(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function renderMarkdown(result: MatrixResult, views: MatrixView[]): string {
  const lines: string[] = [`**${summary(result)}**`, '', `Legend: ${LEGEND}`, ''];
  for (const grid of grids(result, views)) {
    lines.push(`### ${grid.column} — ${grid.view}`, '');
    lines.push(`| from \\ to | ${grid.cols.map(escapeMd).join(' | ')} |`);
    lines.push(`|---|${grid.cols.map(() => ':---:').join('|')}|`);
    for (const row of grid.rows) {
      const cells = grid.cols.map((col) => {
        const s = symbolFor(grid.view, grid.cell(row, col));
        return grid.view === 'mismatch' && s === 'X' ? '**X**' : s;
      });
      lines.push(`| ${escapeMd(row)} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  if (result.mismatches.length > 0) {
    lines.push('### Mismatches', '');
    for (const m of result.mismatches) lines.push(`- ${escapeMd(describeCell(m))}`);
    lines.push('');
  }
  return lines.join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function renderHtml(result: MatrixResult, views: MatrixView[]): string {
  const parts: string[] = [
    '<!doctype html><html><head><meta charset="utf-8"><title>Reachability matrix</title><style>',
    'body{font-family:sans-serif}table{border-collapse:collapse;margin:0 0 1em}td,th{border:1px solid #999;padding:2px 6px;text-align:center;font-family:monospace}',
    '.allowed{background:#dfd}.blocked{background:#fdd}.bad{background:#f66;color:#fff;font-weight:bold}.same{background:#efe}',
    '</style></head><body>',
    `<p><b>${escapeHtml(summary(result))}</b></p><p>${escapeHtml(LEGEND)}</p>`,
  ];
  for (const grid of grids(result, views)) {
    parts.push(`<h3>${escapeHtml(grid.column)} — ${grid.view}</h3><table><tr><th>from \\ to</th>`);
    for (const col of grid.cols) parts.push(`<th>${escapeHtml(col)}</th>`);
    parts.push('</tr>');
    for (const row of grid.rows) {
      parts.push(`<tr><th>${escapeHtml(row)}</th>`);
      for (const col of grid.cols) {
        const cell = grid.cell(row, col);
        const s = symbolFor(grid.view, cell);
        let cls = '';
        if (cell) {
          if (grid.view === 'mismatch') cls = cell.ok ? 'same' : 'bad';
          else cls = s === '.' ? 'allowed' : 'blocked';
        }
        const title = cell ? ` title="${escapeHtml(describeCell(cell))}"` : '';
        parts.push(`<td class="${cls}"${title}>${escapeHtml(s)}</td>`);
      }
      parts.push('</tr>');
    }
    parts.push('</table>');
  }
  if (result.mismatches.length > 0) {
    parts.push('<h3>Mismatches</h3><ul>');
    for (const m of result.mismatches) parts.push(`<li>${escapeHtml(describeCell(m))}</li>`);
    parts.push('</ul>');
  }
  parts.push('</body></html>\n');
  return parts.join('');
}

/** Renders the matrix; `views` defaults to expected, actual and mismatch. */
export function renderMatrix(
  result: MatrixResult,
  format: MatrixFormat,
  views: MatrixView[] = ['expected', 'actual', 'mismatch'],
): string {
  if (format === 'text') return renderText(result, views);
  if (format === 'markdown') return renderMarkdown(result, views);
  return renderHtml(result, views);
}
