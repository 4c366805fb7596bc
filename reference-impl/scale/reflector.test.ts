/**
 * The scale reflector's verdict (reference-impl/scale/reflector.ts) on FRR-shaped JSON, without FRR:
 * exact tables pass; a missing, extra or misdirected route fails with a message naming it.
 */
import { describe, expect, it } from 'vitest';
import { expectedEvpnRoutes, parseEvpnRoutes, reflectorVerdict } from './reflector.ts';

const intent = expectedEvpnRoutes([
  { mac: '02:5c:00:00:00:01', ip: '10.0.0.10', vtep: '10.100.0.1', vni: 10000 },
  { mac: '02:5c:00:00:00:02', ip: '10.0.0.11', vtep: '10.100.0.2', vni: 10000 },
  { mac: '02:5c:00:00:00:03', ip: '10.0.1.10', vtep: '10.100.0.1', vni: 10001 },
]);

/** `show bgp l2vpn evpn route json` as FRR 8.4 prints it: RD → prefix → paths. */
function frrTable(
  type2: Array<[string, string, string]>,
  type3: Array<[string, string]>,
): Record<string, unknown> {
  const table: Record<string, Record<string, unknown>> = {};
  const put = (rd: string, prefix: string, path: Record<string, unknown>) => {
    table[rd] ??= { rd };
    (table[rd] as Record<string, unknown>)[prefix] = { prefix, paths: [path] };
  };
  for (const [mac, ip, nh] of type2)
    put('100.64.0.1:10000', `[2]:[0]:[48]:[${mac}]:[32]:[${ip}]`, {
      routeType: 2,
      mac,
      ip,
      nexthops: [{ ip: nh }],
    });
  for (const [vtep, rd] of type3)
    put(rd, `[3]:[0]:[32]:[${vtep}]`, { routeType: 3, ip: vtep, nexthops: [{ ip: vtep }] });
  return { ...table, numPrefix: type2.length + type3.length, numPaths: type2.length + type3.length };
}

const exactType2: Array<[string, string, string]> = [
  ['02:5c:00:00:00:01', '10.0.0.10', '10.100.0.1'],
  ['02:5c:00:00:00:02', '10.0.0.11', '10.100.0.2'],
  ['02:5c:00:00:00:03', '10.0.1.10', '10.100.0.1'],
];
const exactType3: Array<[string, string]> = [
  ['10.100.0.1', '100.64.0.1:10000'],
  ['10.100.0.2', '100.64.0.1:10000'],
  ['10.100.0.1', '100.64.0.1:10001'],
];

describe('scale reflector verdict', () => {
  it('counts one type-2 per port and one type-3 per VNI per VTEP from the intent', () => {
    expect(intent.total).toBe(6);
    expect(intent.floodPerVtep.get('10.100.0.1')).toBe(2);
  });

  it('passes the exact table', () => {
    const v = reflectorVerdict(intent, parseEvpnRoutes(frrTable(exactType2, exactType3)));
    expect(v).toMatchObject({ ok: true, type2: 3, type3: 3 });
  });

  it('names a missing type-2, a type-2 at the wrong VTEP and a missing type-3', () => {
    const type2 = exactType2.slice(1).map(([m, i]) => [m, i, '10.100.0.9'] as [string, string, string]);
    const v = reflectorVerdict(intent, parseEvpnRoutes(frrTable(type2, exactType3.slice(0, 2))));
    expect(v.ok).toBe(false);
    expect(v.message).toContain('2/3 type-2, 2/3 type-3');
    expect(v.message).toContain('type-2 02:5c:00:00:00:02 via 10.100.0.9, expected 10.100.0.2');
    expect(v.message).toContain('1 type-2 missing: 02:5c:00:00:00:01 10.0.0.10');
    expect(v.message).toContain('VTEP 10.100.0.1: 1 type-3, expected 2');
  });

  it('names a route the intent does not imply', () => {
    const extra = [
      ...exactType2,
      ['02:5c:00:00:00:99', '10.0.0.99', '10.100.0.1'] as [string, string, string],
    ];
    const v = reflectorVerdict(intent, parseEvpnRoutes(frrTable(extra, exactType3)));
    expect(v.ok).toBe(false);
    expect(v.message).toContain('unexpected type-2 02:5c:00:00:00:99 10.0.0.99');
  });
});
