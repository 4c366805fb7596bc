/**
 * SG-3 on the stateless profile (`reference-stateless`). The catalogue's SG-3 ("add, then remove, a
 * VM to a group on a remote hypervisor: allowed within T_sg, blocked again within T_sg, no stale
 * allow") asks for membership propagation, not for connection state: a stateless ACL switch must
 * pass it like the stateful reference (only SG-2 is the profiles' behavioural difference). Here is
 * why it can, on the nft state the agent derives: in both modes a join or a leave is set elements
 * only, the same elements, and once the VM has left no rule names its address (it is in no set), so
 * nothing can let it through in either direction. No kernel, no lab.
 */
import { describe, expect, it } from 'vitest';
import type { Entry } from '../protocol/messages.ts';
import { sgDomainEntries } from './fixtures/sg-entries.ts';
import { type ActualSg, deriveSecurity, type SgMode, sgScript } from './security.ts';

const APP = 8_000_001;
const DB = 8_000_002;
const X = '198.51.100.72';
const base: Entry[] = [
  ...sgDomainEntries({
    domain: 'sg3',
    subnets: [
      { id: 'app', vni: 8302, prefix: '198.51.100.64/26', gateway: '198.51.100.65' },
      { id: 'db', vni: 8303, prefix: '198.51.100.128/26', gateway: '198.51.100.129' },
    ],
    rule: { id: 'app-db', from: APP, to: DB, port: 3306 },
  }),
  // db on this hypervisor (hv2 in SG-3); sg3-x is remote (hv1), learned through BGP as a mac entry.
  {
    kind: 'vport',
    id: 'd1',
    subnet: 'db',
    vni: 8303,
    mac: '02:00:83:03:01:31',
    ip: '198.51.100.131',
    groups: [DB],
  },
];
const x = (groups: number[]): Entry => ({
  kind: 'mac',
  vni: 8302,
  mac: '02:00:83:02:00:72',
  ip: X,
  vtep: '10.0.1.2',
  seq: 0,
  groups,
});

const NS = 'oh13-hv2-d-sg3';
const derive = (mode: SgMode, groups: number[]) =>
  deriveSecurity([...base, x(groups)], { prefix: 'oh13-', hypervisor: 'hv2', mode }).get(NS);
const asProgrammed = (mode: SgMode, groups: number[]): ActualSg => {
  const s = derive(mode, groups);
  if (!s) throw new Error(`no security state for ${NS}`);
  return {
    ...s,
    handles: new Map([...s.rules.keys()].map((c, i) => [c, i + 1])),
    exists: true,
    guardExists: true,
  };
};

describe('SG-3 on the stateless profile: membership only, no state involved', () => {
  for (const mode of ['stateful', 'stateless'] as const) {
    it(`${mode}: joining and leaving app are element changes only, the same in both modes`, () => {
      const join = sgScript(derive(mode, [APP])!, asProgrammed(mode, []));
      const leave = sgScript(derive(mode, [])!, asProgrammed(mode, [APP]));
      expect(join).toBe(`add element inet otwin_sg g${APP} { ${X} }\n`);
      expect(leave).toBe(`delete element inet otwin_sg g${APP} { ${X} }\n`);
    });
  }

  it('stateless: after leaving, no rule or set names the address (no stale allow either way)', () => {
    const left = derive('stateless', [])!;
    for (const ips of left.sets.values()) expect(ips.has(X)).toBe(false);
    for (const text of left.rules.values()) expect(text).not.toContain(X);
    // The mirror that lets replies through keys on the same groups: db → app from source port 3306.
    expect([...left.rules.values()]).toContain(`ip saddr @g${DB} ip daddr @g${APP} tcp sport 3306 accept`);
    expect([...left.rules.values()]).not.toContain('ct state established,related accept');
  });
});
