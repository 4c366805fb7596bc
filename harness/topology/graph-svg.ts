/**
 * Draws a TopologyGraph as a standalone SVG without Graphviz (this machine and most CI images lack
 * it): nodes without links on the top row (the management plane, reached over the mgmt network),
 * then each connected part in layers by distance from its most connected node, each layer ordered
 * under the nodes it hangs from. Straight links, the interface and address at each end, nodes
 * coloured by group with a legend.
 */
import { endLabel, type GraphNode, nodeLabel, type TopologyGraph } from './graph.ts';

const BOX_W = 150;
const LINE_H = 14;
const COL_W = 175;
const ROW_GAP = 150;
const MARGIN = 30;
const PALETTE = ['#e8f0fe', '#e6f4ea', '#fef7e0', '#fce8e6', '#f3e8fd', '#e4f7fb', '#fde7f3', '#eeeeee'];

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Rows of node names: unlinked nodes first, then BFS layers of every connected part. */
function layers(graph: TopologyGraph): string[][] {
  const neighbours = new Map<string, string[]>(graph.nodes.map((n) => [n.name, []]));
  for (const { ends } of graph.edges) {
    neighbours.get(ends[0].node)?.push(ends[1].node);
    neighbours.get(ends[1].node)?.push(ends[0].node);
  }
  const order = new Map(graph.nodes.map((n, i) => [n.name, i]));
  const rows: string[][] = [
    graph.nodes.filter((n) => neighbours.get(n.name)!.length === 0).map((n) => n.name),
  ];
  const depth = new Map<string, number>();
  const linked = graph.nodes.filter((n) => neighbours.get(n.name)!.length > 0);
  const byDegree = [...linked].sort(
    (a, b) => neighbours.get(b.name)!.length - neighbours.get(a.name)!.length,
  );
  for (const root of byDegree) {
    if (depth.has(root.name)) continue;
    depth.set(root.name, 0);
    const queue = [root.name];
    while (queue.length > 0) {
      const at = queue.shift()!;
      for (const next of neighbours.get(at)!) {
        if (depth.has(next)) continue;
        depth.set(next, depth.get(at)! + 1);
        queue.push(next);
      }
    }
  }
  for (const [name, d] of depth) {
    while (rows.length <= d + 1) rows.push([]);
    rows[d + 1]!.push(name);
  }
  // Under the nodes they hang from (mean column of the row above), then in file order.
  for (let r = 2; r < rows.length; r += 1) {
    const above = new Map(rows[r - 1]!.map((n, i) => [n, i]));
    const centre = (name: string) => {
      const cols = neighbours.get(name)!.flatMap((n) => (above.has(n) ? [above.get(n)!] : []));
      return cols.length ? cols.reduce((a, b) => a + b, 0) / cols.length : 0;
    };
    rows[r]!.sort((a, b) => centre(a) - centre(b) || order.get(a)! - order.get(b)!);
  }
  return rows.filter((row) => row.length > 0);
}

function boxHeight(node: GraphNode): number {
  return nodeLabel(node).length * LINE_H + 12;
}

export function graphSvg(graph: TopologyGraph): string {
  const rows = layers(graph);
  const nodes = new Map(graph.nodes.map((n) => [n.name, n]));
  const groups = [...new Set(graph.nodes.flatMap((n) => (n.group ? [n.group] : [])))];
  const fill = (n: GraphNode) => (n.group ? PALETTE[groups.indexOf(n.group) % PALETTE.length]! : '#ffffff');
  const widest = Math.max(...rows.map((r) => r.length));
  const width = Math.max(widest * COL_W, 520) + 2 * MARGIN;
  const at = new Map<string, { x: number; y: number; h: number }>();
  let y = MARGIN + 20;
  for (const row of rows) {
    const h = Math.max(...row.map((n) => boxHeight(nodes.get(n)!)));
    const left = (width - row.length * COL_W) / 2 + (COL_W - BOX_W) / 2;
    row.forEach((name, i) => {
      at.set(name, { x: left + i * COL_W, y, h: boxHeight(nodes.get(name)!) });
    });
    y += h + ROW_GAP;
  }
  const legendY = y - ROW_GAP + 30;
  const height = legendY + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<title>${escapeXml(graph.caption)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN}" y="${MARGIN}" font-size="13" font-weight="bold">${escapeXml(graph.caption)}</text>`,
  ];
  const labels: string[] = [];
  const degree = new Map<string, number>();
  for (const { ends } of graph.edges) for (const e of ends) degree.set(e.node, (degree.get(e.node) ?? 0) + 1);
  for (const edge of graph.edges) {
    const [a, b] = edge.ends.map((e) => at.get(e.node)!);
    if (!a || !b) continue;
    const anchor = (p: { x: number; y: number; h: number }, q: { y: number }) => ({
      x: p.x + BOX_W / 2,
      y: q.y > p.y ? p.y + p.h : q.y < p.y ? p.y : p.y + p.h / 2,
    });
    const from = anchor(a, b);
    const to = anchor(b, a);
    const dash = edge.type === 'veth' ? '' : ' stroke-dasharray="5 4"';
    out.push(
      `<line x1="${from.x}" y1="${from.y}" x2="${to.x}" y2="${to.y}" stroke="#5f6368" stroke-width="1.5"${dash}/>`,
    );
    edge.ends.forEach((end, i) => {
      const [p, q] = i === 0 ? [from, to] : [to, from];
      // At a node with many links the labels go further out, where the links have spread apart.
      const along = (degree.get(end.node) ?? 0) > 2 ? 0.36 : 0.15;
      const lx = p.x + (q.x - p.x) * along;
      const ly = p.y + (q.y - p.y) * along;
      endLabel(end).forEach((text, k) => {
        labels.push(
          `<text x="${lx.toFixed(1)}" y="${(ly + 4 + (k - 0.5) * 11).toFixed(1)}" text-anchor="middle" font-size="9" fill="#202124" stroke="#ffffff" stroke-width="3" paint-order="stroke">${escapeXml(text)}</text>`,
        );
      });
    });
  }
  for (const [name, p] of at) {
    const node = nodes.get(name)!;
    const dash = node.pseudo ? ' stroke-dasharray="4 3"' : '';
    out.push(
      `<g><rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${p.h}" rx="8" fill="${fill(node)}" stroke="#5f6368"${dash}/>`,
    );
    nodeLabel(node).forEach((text, k) => {
      const weight = k === 0 ? ' font-weight="bold" font-size="12"' : '';
      out.push(
        `<text x="${p.x + BOX_W / 2}" y="${p.y + 18 + k * LINE_H}" text-anchor="middle"${weight}>${escapeXml(text)}</text>`,
      );
    });
    out.push('</g>');
  }
  out.push(...labels);
  groups.forEach((group, i) => {
    const x = MARGIN + i * 120;
    out.push(
      `<rect x="${x}" y="${legendY}" width="14" height="14" rx="3" fill="${fill({ group } as GraphNode)}" stroke="#5f6368"/>`,
      `<text x="${x + 20}" y="${legendY + 11}">group ${escapeXml(group)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}
