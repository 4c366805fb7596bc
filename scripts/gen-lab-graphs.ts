/**
 * Writes the picture of every lab in labs/ (and labs/compat/) to docs/img/<lab file>.svg and .dot,
 * from the topology model, the same as `otwin lab graph`. Run after changing a lab:
 * `npm run gen:lab-graphs`.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { graphDot, topologyGraph } from '../harness/topology/graph.ts';
import { graphSvg } from '../harness/topology/graph-svg.ts';
import { loadTopology } from '../harness/topology/load.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(repo, 'docs', 'img');
mkdirSync(out, { recursive: true });
for (const folder of ['labs', join('labs', 'compat')]) {
  for (const file of readdirSync(join(repo, folder)).filter((f) => f.endsWith('.clab.yml'))) {
    const graph = topologyGraph(await loadTopology(join(repo, folder, file)));
    const name = basename(file, '.clab.yml');
    writeFileSync(join(out, `${name}.svg`), graphSvg(graph));
    writeFileSync(join(out, `${name}.dot`), graphDot(graph));
    console.log(
      `docs/img/${name}.svg, .dot: lab ${graph.name}, ${graph.nodes.length} nodes, ${graph.edges.length} links`,
    );
  }
}
