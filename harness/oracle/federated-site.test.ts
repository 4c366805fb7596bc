/**
 * Sites of a routing domain (externals with `domain:`, docs/federation.md): a site reaches its own
 * domain's VMs on their own addresses in both directions when the domain has an L3 VNI, and never
 * another domain's VMs, whatever their floating IPs.
 */
import { describe, expect, it } from 'vitest';
import { emptyIntent, type Intent } from '../scenario/intent.ts';
import { Oracle, type ProbeSpec } from './index.ts';

const icmp: ProbeSpec = { proto: 'icmp', port: undefined };

function federated(l3Vni: number | undefined): Intent {
  const intent = emptyIntent();
  intent.tenants = [{ name: 'ta' }, { name: 'tb' }];
  intent.domains = [
    { name: 'da', tenant: 'ta', vni: l3Vni, pnat: false, zone: undefined },
    { name: 'db', tenant: 'tb', vni: 15002, pnat: false, zone: undefined },
  ];
  intent.subnets = [
    { name: 'sa', domain: 'da', cidr: '192.0.2.0/25', vni: 1, gateway: '192.0.2.1', routeTarget: undefined },
    {
      name: 'sb',
      domain: 'db',
      cidr: '192.0.2.128/25',
      vni: 2,
      gateway: '192.0.2.129',
      routeTarget: undefined,
    },
  ];
  const vm = (name: string, subnet: string, ip: string) => ({
    name,
    subnet,
    hypervisor: 'hv1',
    ip,
    mac: undefined,
    groups: [],
    node: undefined,
    iface: 'eth1',
    port: undefined,
    attached: true,
  });
  intent.vms = [vm('a1', 'sa', '192.0.2.11'), vm('b1', 'sb', '192.0.2.140')];
  intent.externals = [
    { name: 'site-a', node: 'site-a', ip: '198.51.100.10', iface: 'eth1', domain: 'da' },
    { name: 'site-b', node: 'site-b', ip: '198.51.100.138', iface: 'eth1', domain: 'db' },
  ];
  return intent;
}

describe('oracle: sites of a federated domain', () => {
  it('a site reaches its own domain on private addresses, both ways, and not the other domain', () => {
    const o = new Oracle(federated(15001));
    expect(o.cell('site-a', 'a1', icmp)).toMatchObject({ verdict: 'reach', address: '192.0.2.11' });
    expect(o.cell('a1', 'site-a', icmp)).toMatchObject({ verdict: 'reach', address: '198.51.100.10' });
    expect(o.cell('site-a', 'b1', icmp).verdict).toBe('drop');
    expect(o.cell('b1', 'site-a', icmp).verdict).toBe('drop');
    expect(o.cell('site-b', 'b1', icmp).verdict).toBe('reach');
  });

  it('a domain without an L3 VNI is not reached from its site', () => {
    expect(new Oracle(federated(undefined)).cell('site-a', 'a1', icmp).reason).toMatch(/no L3 VNI/);
  });
});
