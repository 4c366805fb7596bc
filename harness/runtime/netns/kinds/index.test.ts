import { describe, expect, it } from 'vitest';
import type { TopologyNode } from '../../../topology/types.ts';
import { NODE_PROFILES, profileFor, SUPPORTED_KINDS } from './index.ts';

function node(kind: string, image: string): TopologyNode {
  return {
    name: 'n1',
    kind,
    image,
    group: undefined,
    binds: [],
    exec: [],
    cmd: undefined,
    env: {},
    envFiles: [],
    labels: {},
    mgmtIPv4: undefined,
    mgmtIPv6: undefined,
    extra: {},
    extraPos: {},
    longName: 'clab-x-n1',
    pos: { file: 'lab.clab.yml', line: 1, col: 1, path: 'topology.nodes.n1' },
  };
}

describe('netns node kinds registry', () => {
  it('derives the accepted kinds from the registered profiles, plus host', () => {
    expect([...SUPPORTED_KINDS].sort()).toEqual(['bridge', 'host', 'linux']);
    expect(new Set(NODE_PROFILES.map((p) => p.name)).size).toBe(NODE_PROFILES.length);
  });

  it('picks the narrower profile first: FRR images run FRR, other linux images plain Linux', () => {
    expect(profileFor(node('linux', 'quay.io/frrouting/frr:8.4.1')).name).toBe('frr');
    expect(profileFor(node('linux', 'ghcr.io/hellt/network-multitool')).name).toBe('linux');
    expect(profileFor(node('bridge', '')).name).toBe('bridge');
  });

  it('says which profiles route and which inspect lists, as containerlab does', () => {
    const bridge = profileFor(node('bridge', ''));
    expect(bridge.forwards).toBe(false);
    expect(bridge.listed).toBe(false);
    expect(profileFor(node('linux', 'alpine')).forwards).toBe(true);
  });
});
