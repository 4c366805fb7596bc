import { describe, expect, it } from 'vitest';
import type { Entry } from '../protocol/messages.ts';
import { natSubnet } from './fixtures/nat-redirect-entries.ts';
import { deriveNat, natScript, pnatScript, uplinkDevName } from './nat.ts';

const naming = { prefix: 'otf-t-', hypervisor: 'hv1' };
const entries = (pnat: boolean, fip?: string): Entry[] => [
  { kind: 'domain', id: 'd1', tenant: 't', ...(pnat ? { pnat: true } : {}) },
  { kind: 'domain', id: 'd2', tenant: 't' },
  natSubnet,
  {
    kind: 'vport',
    id: 'v1',
    subnet: 's1',
    vni: 10,
    mac: '02:00:00:00:00:01',
    ip: '10.9.0.5',
    ...(fip ? { floatingIp: fip } : {}),
  },
];

describe('NAT derivation (docs/nat.md)', () => {
  it('gives an uplink only to domains with a floating IP or PNAT', () => {
    expect(deriveNat(entries(false), naming).size).toBe(0);
    const d = [...deriveNat(entries(false, '198.18.0.5'), naming).values()];
    expect(d).toHaveLength(1);
    expect(d[0]?.ns).toBe('otf-t-hv1-d-d1');
    expect(d[0]?.hvDev).toBe(uplinkDevName('d1'));
    expect(d[0]?.fips.get('198.18.0.5')).toBe('10.9.0.5');
    expect(d[0]?.hvAddr).toMatch(/^169\.254\.(1[2-9][0-9]|2[0-5][0-9])\.\d+$/);
  });

  it('translates only what leaves through the uplink, and drops what stays untranslated', () => {
    const [d] = [...deriveNat(entries(true, '198.18.0.5'), naming).values()];
    if (!d) throw new Error('no domain');
    const { script, comment } = natScript(d);
    expect(script).toContain('iifname "uplink" ip daddr 198.18.0.5 dnat to 10.9.0.5');
    expect(script).toContain('oifname "uplink" ip saddr 10.9.0.5 snat to 198.18.0.5');
    expect(script).toContain('oifname "uplink" masquerade');
    expect(script).toContain(`comment "${comment}"`);
    expect(script).toMatch(/ip saddr != \{ 169\.254\.\d+\.\d+, 198\.18\.0\.5 \} drop/);
    expect(pnatScript()).toContain('oifname != "nh*" masquerade random');
  });

  it('gives distinct domains distinct transit /30s', () => {
    const many: Entry[] = Array.from({ length: 50 }, (_, i) => ({
      kind: 'domain' as const,
      id: `dom${i}`,
      tenant: 't',
      pnat: true,
    }));
    const addrs = [...deriveNat(many, naming).values()].map((d) => d.hvAddr);
    expect(new Set(addrs).size).toBe(50);
  });
});
