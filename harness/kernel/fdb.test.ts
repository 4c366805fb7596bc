/**
 * The forwarding-table reader against a real kernel: a bridge with a VXLAN device and a port in a
 * namespace of this test's own, read the way the drivers read it (one shell, `ip -j`/`bridge -j`).
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOOD_MAC, forwardingTableScript, parseForwardingTables } from './fdb.ts';

const NS = `otwin-fdbtest-${process.pid.toString(36)}`;
const MISSING = `${NS}-missing`;
const root = process.getuid?.() === 0;

const ipn = (...args: string[]) => execFileSync('ip', ['-n', NS, ...args]);
const fdb = (...args: string[]) => execFileSync('bridge', ['-n', NS, 'fdb', ...args]);

describe.skipIf(!root)('forwarding tables from ip -j / bridge -j', () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', NS]);
    ipn('link', 'add', 'br7', 'type', 'bridge');
    ipn(
      'link',
      'add',
      'vx7',
      'type',
      'vxlan',
      'id',
      '7',
      'local',
      '10.9.9.1',
      'dstport',
      '4789',
      'nolearning',
    );
    ipn('link', 'set', 'vx7', 'master', 'br7');
    ipn('link', 'add', 'vp1', 'type', 'veth', 'peer', 'name', 'vq1');
    ipn('link', 'set', 'vp1', 'master', 'br7');
    for (const dev of ['br7', 'vx7', 'vp1']) ipn('link', 'set', dev, 'up');
    fdb('append', FLOOD_MAC, 'dev', 'vx7', 'dst', '10.9.9.2', 'self', 'permanent');
    fdb('append', FLOOD_MAC, 'dev', 'vx7', 'dst', '10.9.9.3', 'self', 'permanent');
    fdb('add', '02:00:00:00:00:22', 'dev', 'vx7', 'dst', '10.9.9.2', 'self', 'static');
    fdb('add', '02:00:00:00:00:22', 'dev', 'vx7', 'master', 'static');
    fdb('add', '02:00:00:00:00:11', 'dev', 'vp1', 'master', 'static');
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'del', NS]);
  });

  it('reports remote MACs at their VTEP, the flood list, and local ports; a missing namespace has no table', () => {
    const out = execFileSync('sh', ['-c', forwardingTableScript([NS, MISSING])], { encoding: 'utf8' });
    const tables = parseForwardingTables(out);
    expect(tables.get(MISSING)).toEqual([]);
    const entries = tables.get(NS)!;
    // The bridge-side copy of the remote MAC (no VTEP) and the ports' own addresses are not entries.
    expect(entries).toEqual(
      expect.arrayContaining([
        { vni: 7, mac: '02:00:00:00:00:22', vtep: '10.9.9.2' },
        { vni: 7, mac: FLOOD_MAC, vtep: '10.9.9.2' },
        { vni: 7, mac: FLOOD_MAC, vtep: '10.9.9.3' },
        { vni: 7, mac: '02:00:00:00:00:11', vtep: undefined },
      ]),
    );
    expect(entries.filter((e) => e.mac === '02:00:00:00:00:22')).toHaveLength(1);
    // Anything else is a MAC the bridge learned on its port (vq1's own traffic), never a VTEP-less
    // copy of a remote MAC.
    expect(
      entries.filter((e) => e.vtep === undefined && e.mac !== '02:00:00:00:00:11').length,
    ).toBeLessThanOrEqual(1);
  });

  it('refuses a namespace name that could carry shell syntax', () => {
    expect(() => forwardingTableScript(['x; rm -rf /'])).toThrow(/unsafe namespace name/);
  });
});
