/**
 * The ovn driver without a lab: which packs it skips and why (EVPN route and VXLAN checks), what it
 * refuses in an intent, the names it gives OVN objects and host devices, and how it reads OVSDB JSON.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../harness/scenario/parse.ts';
import { skipReason } from '../../harness/scenario/timeline.ts';
import { createDriver, macFromName, OvnDriver, ovsdbRows } from './driver.ts';
import { ovnNames } from './names.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const driver = new OvnDriver();

describe('the ovn driver', () => {
  it('skips the EVPN pack with the reason (no BGP routes), and the VX pack (Geneve, not VXLAN)', () => {
    const evpn = {
      ...loadScenario(resolve(REPO, 'scenarios/evpn/evpn-2-attach.yml')),
      implementation: 'ovn',
    };
    expect(skipReason(evpn, driver, new Set(['vxlan', 'bridge']))).toMatch(
      /^implementation ovn cannot take part in 'bgp' checks \(OVN has no EVPN/,
    );
    const vx = { ...loadScenario(resolve(REPO, 'scenarios/vx/vx-2-entropy.yml')), implementation: 'ovn' };
    expect(skipReason(vx, driver, new Set(['vxlan', 'bridge']))).toMatch(/'vxlan' checks \(.*Geneve/);
  });

  it('runs the reference packs of its suite, security groups, floating IPs and PNAT (NAT-5 is judged, not skipped)', () => {
    const features = new Set(['vxlan', 'bridge']);
    const l3 = loadScenario(resolve(REPO, 'scenarios/ovn/l3-1-direct-routing.yml'));
    expect(skipReason(l3, driver, new Set())).toBeUndefined();
    for (const pack of [
      'sg/sg-1-rule-table',
      'sg/sg-2-stateful',
      'nat/nat-1-floating-ip',
      'nat/nat-3-no-internal-translation',
      'nat/nat-4-move',
      'nat/nat-5-pnat',
      'nat/nat-6-security-groups',
    ]) {
      const s = loadScenario(resolve(REPO, `scenarios/${pack}.yml`));
      expect(skipReason(s, driver, features)).toBeUndefined();
    }
  });

  it('refuses names the shell or OVS would not take as they are', () => {
    const l2 = loadScenario(resolve(REPO, 'scenarios/l2/l2-1-matrix.yml'));
    expect(driver.validate(l2)).toEqual([]);
    const bad = { ...l2, intent: { ...l2.intent, vms: [{ ...l2.intent.vms[0]!, name: 'a1;reboot' }] } };
    expect(driver.validate(bad)).toEqual([
      "the ovn driver names OVN objects and namespaces after 'a1;reboot': use letters, digits, _ . -",
    ]);
  });

  it('names host devices within 15 bytes and derives stable locally administered MACs', () => {
    const n = ovnNames(loadScenario(resolve(REPO, 'scenarios/l2/l2-1-matrix.yml')).intent);
    expect(n.tapOf('a1')).toBe('vif-a1');
    expect(n.tapOf('a-very-long-vm-name').length).toBeLessThanOrEqual(15);
    expect(n.portOf('a1')).toBe('vm-a1');
    expect(macFromName('lrp-web')).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    expect(macFromName('lrp-web')).toBe(macFromName('lrp-web'));
    expect(createDriver().name).toBe('ovn');
  });

  it('reads ovsdb --format=json tables as rows keyed by column', () => {
    const json = JSON.stringify({
      headings: ['logical_port', 'up'],
      data: [
        ['vm-a1', ['set', [true]]],
        ['vm-a2', ['set', []]],
      ],
    });
    expect(ovsdbRows(json)).toEqual([
      { logical_port: 'vm-a1', up: ['set', [true]] },
      { logical_port: 'vm-a2', up: ['set', []] },
    ]);
  });
});
