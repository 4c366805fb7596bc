/**
 * Security groups → port groups and ACLs, without a lab: what OVN is told for SG-1's and SG-2's
 * intents (expected values written from the intent's rules and ovn-nb(5), not from another driver).
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../harness/scenario/parse.ts';
import { portGroupName, ruleDomains, securityPlan } from './acls.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const portOf = (vm: string) => `vm-${vm}`;

describe('security groups on OVN', () => {
  const sg2 = loadScenario(resolve(REPO, 'scenarios/sg/sg-2-stateful.yml')).intent;
  const web = portGroupName('sg', 'sg2-net', 'web');
  const app = portGroupName('sg', 'sg2-net', 'app');
  const all = portGroupName('dom', 'sg2-net', 'all');

  it('names port groups as OVN match identifiers, distinct for distinct names', () => {
    expect(web).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
    expect(portGroupName('sg', 'a-b', 'c')).not.toBe(portGroupName('sg', 'a_b', 'c'));
  });

  it('makes a port group per group and one of the whole domain, of attached ports only', () => {
    const plan = securityPlan(sg2, portOf);
    expect(plan.portGroups.get(web)).toEqual(['vm-sg2-w1', 'vm-sg2-w2']);
    expect(plan.portGroups.get(app)).toEqual(['vm-sg2-a1']);
    expect(plan.portGroups.get(all)).toEqual(['vm-sg2-w1', 'vm-sg2-w2', 'vm-sg2-a1']);
    const detached = {
      ...sg2,
      vms: sg2.vms.map((vm) => (vm.name === 'sg2-w2' ? { ...vm, attached: false } : vm)),
    };
    expect(securityPlan(detached, portOf).portGroups.get(web)).toEqual(['vm-sg2-w1']);
  });

  it('allows each rule statefully at both ends, above a default deny of IPv4 both ways', () => {
    const { acls } = securityPlan(sg2, portOf);
    expect(acls).toContainEqual({
      portGroup: web,
      direction: 'from-lport',
      priority: 1002,
      match: `inport == @${web} && ip4.dst == $${app}_ip4 && tcp && (tcp.dst == 9000)`,
      action: 'allow-related',
    });
    expect(acls).toContainEqual({
      portGroup: app,
      direction: 'to-lport',
      priority: 1002,
      match: `outport == @${app} && ip4.src == $${web}_ip4 && udp && (udp.dst == 9000)`,
      action: 'allow-related',
    });
    const denies = acls.filter((a) => a.action === 'drop');
    expect(denies.map((a) => `${a.direction} ${a.priority} ${a.match}`)).toEqual([
      `from-lport 1001 inport == @${all} && ip4`,
      `to-lport 1001 outport == @${all} && ip4`,
    ]);
  });

  it('the stateless profile (a sabotage) allows each rule and its source-port mirror without conntrack', () => {
    const { acls } = securityPlan(sg2, portOf, 'stateless');
    expect(acls.some((a) => a.action === 'allow-related')).toBe(false);
    expect(acls).toContainEqual({
      portGroup: app,
      direction: 'from-lport',
      priority: 1002,
      match: `inport == @${app} && ip4.dst == $${web}_ip4 && tcp && (tcp.src == 9000)`,
      action: 'allow-stateless',
    });
  });

  it('maps any, CIDRs, port ranges and ICMP; a domain without rules gets nothing', () => {
    const intent = {
      ...sg2,
      rules: [
        {
          from: 'any',
          to: 'web',
          proto: 'tcp' as const,
          ports: [
            [80, 80],
            [8000, 8080],
          ] as Array<[number, number]>,
          domain: undefined,
        },
        { from: '203.0.113.0/24', to: 'app', proto: 'icmp' as const, ports: [], domain: 'sg2-net' },
      ],
    };
    const { acls } = securityPlan(intent, portOf);
    expect(acls).toContainEqual(
      expect.objectContaining({
        direction: 'from-lport',
        portGroup: all,
        match: `inport == @${all} && ip4.dst == $${web}_ip4 && tcp && (tcp.dst == 80 || (tcp.dst >= 8000 && tcp.dst <= 8080))`,
      }),
    );
    expect(acls).toContainEqual(
      expect.objectContaining({
        direction: 'to-lport',
        portGroup: app,
        match: `outport == @${app} && ip4.src == 203.0.113.0/24 && icmp4`,
      }),
    );
    expect(ruleDomains(intent.rules[0]!, intent)).toEqual(['sg2-net']);
    expect(securityPlan({ ...sg2, rules: [] }, portOf)).toEqual({ portGroups: new Map(), acls: [] });
  });
});
