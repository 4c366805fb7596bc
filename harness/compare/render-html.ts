/**
 * The comparison as one self-contained HTML page (inline style and script, no external assets: it
 * opens from disk and survives being attached to a CI job). Cells whose verdict differs from the
 * reference column are outlined; a checkbox hides the rows where every column agrees.
 */

import { type CompareTable, columnCounts, figureTexts, regressionLines } from './table.ts';
import type { Cell } from './types.ts';

const escapeHtml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}td.id{white-space:nowrap;font-weight:600}
td small{display:block;color:#555}.passed{background:#e6f4ea}.failed{background:#fce8e6}
.broken{background:#fdf0d5}.skipped{background:#eef1f5}.not-covered{color:#888}
.changed{outline:3px solid #c5221f;outline-offset:-3px}.group{color:#666;font-weight:normal}
.gate-fail{color:#c5221f}.gate-pass{color:#137333}body.only-diff tr.same{display:none}`;

function cellHtml(cell: Cell, changed: boolean): string {
  const cls = `${cell.status.replace(' ', '-')}${changed ? ' changed' : ''}`;
  const figures = figureTexts(cell.figures).map((f) => `<small>${escapeHtml(f)}</small>`);
  const title = cell.detail ? ` title="${escapeHtml(cell.detail)}"` : '';
  const count = cell.results > 1 ? ` <small>${cell.results} results</small>` : '';
  return `<td class="${cls}"${title}>${escapeHtml(cell.status)}${count}${figures.join('')}</td>`;
}

export function renderHtml(t: CompareTable, generatedAt: string): string {
  const columns = t.columns
    .map((c, i) => {
      const n = columnCounts(t, i);
      return `<li><b>${escapeHtml(c.name)}</b>${i === t.baseline ? ' (baseline)' : ''}: ${n.passed} passed, ${n.failed} failed, ${n.broken} broken, ${n.skipped} skipped, ${n['not covered']} not covered — ${c.kind} <code>${escapeHtml(c.input)}</code>${c.runId ? `, run ${escapeHtml(c.runId)}` : ''}</li>`;
    })
    .join('\n');
  const gate = regressionLines(t);
  const gateHtml =
    gate.length === 0
      ? ''
      : `<p class="${t.regressions.length > 0 ? 'gate-fail' : 'gate-pass'}">${gate.map(escapeHtml).join('<br>')}</p>`;
  const head = t.columns.map(
    (c, i) => `<th>${escapeHtml(c.name)}${i === t.baseline ? ' (baseline)' : ''}</th>`,
  );
  const rows = t.rows.map(
    (r) =>
      `<tr class="${r.differs ? 'differs' : 'same'}"><td class="id">${escapeHtml(r.id)} <span class="group">${escapeHtml(r.group)}</span></td>${r.cells.map((c, i) => cellHtml(c, r.changed[i]!)).join('')}</tr>`,
  );
  const differing = t.rows.filter((r) => r.differs).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>otwin compare</title><style>${STYLE}</style></head>
<body><h1>otwin compare</h1><p>Generated ${escapeHtml(generatedAt)}. ${differing} of ${t.rows.length} catalogue IDs differ between the columns (outlined).</p>
<ul>${columns}</ul>${gateHtml}
<label><input type="checkbox" onchange="document.body.classList.toggle('only-diff',this.checked)"> only the IDs that differ</label>
<table><thead><tr><th>ID</th>${head.join('')}</tr></thead><tbody>
${rows.join('\n')}
</tbody></table></body></html>
`;
}
