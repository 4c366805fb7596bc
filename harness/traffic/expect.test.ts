import { describe, expect, it } from 'vitest';
import { comparePackets, diffLayers, parseMasks } from './expect.ts';
import type { DecodedLayer, DecodedPacket } from './types.ts';

const base: DecodedLayer[] = [
  { layer: 'Ether', dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01', type: 2048 },
  { layer: 'IP', ttl: 64, chksum: 100, src: '192.0.2.1', dst: '192.0.2.2' },
  { layer: 'UDP', sport: 1, dport: 4789, chksum: 5 },
  { layer: 'VXLAN', vni: 10, flags: 8 },
  { layer: 'Ether', dst: '02:00:00:00:00:04', src: '02:00:00:00:00:03', type: 2048 },
  { layer: 'IP', ttl: 64, chksum: 200, src: '203.0.113.1', dst: '203.0.113.2' },
];

function packet(layers: DecodedLayer[]): DecodedPacket {
  return { monoMs: 0, epochMs: 0, direction: 'in', length: 0, layers, hex: '' };
}

function withField(index: number, field: string, value: unknown): DecodedLayer[] {
  return base.map((layer, i) => (i === index ? { ...layer, [field]: value } : layer));
}

describe('masked packet comparison', () => {
  it('parses Layer, Layer.field and Layer[i].field masks and rejects anything else', () => {
    expect(parseMasks(['IP', 'IP.ttl', 'Ether[1].src'])).toEqual([
      { layer: 'IP', index: undefined, field: undefined },
      { layer: 'IP', index: undefined, field: 'ttl' },
      { layer: 'Ether', index: 1, field: 'src' },
    ]);
    expect(() => parseMasks(['IP.ttl; rm -rf'])).toThrow(/bad don't-care/);
  });

  it('ignores don’t-care fields and reports the others with their path', () => {
    const actual = withField(1, 'ttl', 63);
    expect(diffLayers(base, actual, parseMasks(['IP.ttl']))).toEqual([]);
    expect(diffLayers(base, actual, [])).toEqual([{ path: 'IP.ttl', expected: 64, actual: 63 }]);
    // Indexed masks only cover that occurrence: the inner IP is still compared.
    const inner = withField(5, 'ttl', 1);
    expect(diffLayers(base, inner, parseMasks(['IP[0].ttl']))).toEqual([
      { path: 'IP[1].ttl', expected: 64, actual: 1 },
    ]);
    expect(diffLayers(base, inner, parseMasks(['IP[1]']))).toEqual([]);
  });

  it('treats a different layer stack as a mismatch, ignoring trailing padding', () => {
    expect(diffLayers(base, base.slice(0, 3), [])).toHaveLength(3);
    expect(diffLayers(base, [...base, { layer: 'Padding', loadHex: '0000' }], [])).toEqual([]);
  });

  it('counts matches and enforces "no other packets"', () => {
    const good = packet(base);
    const other = packet(withField(3, 'vni', 11));
    const opts = { dontCare: [], count: 1, noOthers: false };
    expect(comparePackets(base, [other, good], opts).ok).toBe(true);
    const strict = comparePackets(base, [other, good], { ...opts, noOthers: true });
    expect(strict.ok).toBe(false);
    expect(strict.reason).toMatch(/1 other packet/);
    const none = comparePackets(base, [other], opts);
    expect(none.ok).toBe(false);
    expect(none.reason).toMatch(/VXLAN\.vni \(expected 10, got 11\)/);
  });
});
