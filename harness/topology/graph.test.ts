/** The lab picture: the DOT and the SVG of the default lab name every node and every link. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { graphDot, topologyGraph } from './graph.ts';
import { graphSvg } from './graph-svg.ts';
import { loadTopology } from './load.ts';

describe('topology graph', () => {
  it('the DOT of the default lab contains every node and every link, with both ends', async () => {
    const topology = await loadTopology(resolve('labs/default.clab.yml'));
    const dot = graphDot(topologyGraph(topology));
    expect(dot).toMatch(/^graph "otwin-default" \{/);
    for (const node of topology.nodes)
      expect(dot).toMatch(new RegExp(`^\\s+"${node.name}" \\[label="${node.name}\\\\n`, 'm'));
    for (const link of topology.links) {
      const [a, b] = link.endpoints;
      // An interface's address is drawn when the lab's exec lines give it (the PE's VRF links get
      // theirs inside the VRF namespace, from labs/default/pe/vrfs.sh: no address drawn).
      expect(dot).toContain(`"${a.node}" -- "${b.node}" [taillabel="${a.iface}`);
      expect(dot).toContain(`headlabel="${b.iface}`);
    }
    expect(dot.match(/ -- /g)).toHaveLength(topology.links.length);
    // Addresses from the nodes' exec lines, groups as clusters.
    expect(dot).toContain('"pe" -- "hv1" [taillabel="eth1\\n10.0.1.1/30", headlabel="eth1\\n10.0.1.2/30"]');
    expect(dot).toContain('subgraph "cluster_z1"');
  });

  it('the SVG draws every node and link, standalone', async () => {
    const topology = await loadTopology(resolve('labs/default.clab.yml'));
    const svg = graphSvg(topologyGraph(topology));
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const node of topology.nodes) expect(svg).toContain(`font-size="12">${node.name}</text>`);
    expect(svg.match(/<line /g)).toHaveLength(topology.links.length);
    expect(svg).not.toMatch(/(href|src)="/);
  });
});
