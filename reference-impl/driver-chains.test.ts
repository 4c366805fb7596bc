/** The reference driver's service chains as directory redirection targets (docs/service-chaining.md). */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenarioText } from '../harness/scenario/parse.ts';
import { redirectionObjects } from './driver-chains.ts';

const intent = parseScenarioText(
  `name: fixture
conformance: [SVC-3]
lab: ${resolve('labs/default.clab.yml')}
implementation: reference
intent:
  tenants: [{ name: t }]
  domains: [{ name: d, tenant: t }]
  subnets: [{ name: s, domain: d, cidr: 10.99.1.0/24, gateway: 10.99.1.1, vni: 7191 }]
  groups: [{ name: web }]
  vms:
    - { name: a, subnet: s, hypervisor: hv1, ip: 10.99.1.11 }
    - { name: b1, subnet: s, hypervisor: hv2, ip: 10.99.1.12, groups: [web] }
    - { name: b2, subnet: s, hypervisor: hv3, ip: 10.99.1.13, groups: [web] }
    - { name: fw, subnet: s, hypervisor: hv4, ip: 10.99.1.14 }
  serviceChains:
    - { name: http, from: a, to: web, proto: tcp, ports: ["80-80", "8080-8081"], via: [fw], mode: l3 }
    - { name: all, from: any, to: a, via: [fw], mode: l2 }
    - { name: guarded, from: a, to: b2, via: [b1], standby: [fw], mode: l3 }
timeline:
  - provision: all
`,
  resolve('scenarios/svc/oti-fixture.yml'),
).intent;

describe('redirection targets from service chains', () => {
  it('one target per source VM, destination VM and port range; /32 prefixes, none for any', () => {
    const targets = redirectionObjects(intent, () => true);
    expect(targets.filter((t) => t.name.startsWith('http-'))).toHaveLength(4);
    expect(targets[0]).toEqual({
      id: 'svc-d-http-0',
      domain: 't.d',
      name: 'http-0',
      mode: 'l3',
      vport: 'fw',
      standbyVport: null,
      sourcePrefix: '10.99.1.11/32',
      destinationPrefix: '10.99.1.12/32',
      protocol: 'tcp',
      portMin: 80,
      portMax: 80,
    });
    expect(targets.at(-2)).toMatchObject({
      mode: 'l2',
      sourcePrefix: null,
      destinationPrefix: '10.99.1.11/32',
      protocol: 'any',
      portMin: null,
    });
  });

  it('a chain with a standby names it as the standby vport (SVC-5)', () => {
    expect(redirectionObjects(intent, () => true).at(-1)).toMatchObject({
      name: 'guarded-0',
      vport: 'b1',
      standbyVport: 'fw',
    });
    expect(redirectionObjects(intent, (vm) => vm !== 'fw').at(-1)).toMatchObject({ standbyVport: null });
  });

  it('a detached appliance leaves its targets without a vport', () => {
    const targets = redirectionObjects(intent, (vm) => vm !== 'fw').filter(
      (t) => !t.name.startsWith('guarded'),
    );
    expect(targets.every((t) => t.vport === null)).toBe(true);
  });
});
