/**
 * PTF-style masked packet comparison: an expected packet (decoded by the server, so defaults and
 * checksums are filled in) against captured packets, ignoring the don't-care fields.
 */
import type { DecodedLayer, DecodedPacket, ExpectPacketsResult, FieldDifference } from './types.ts';

interface Mask {
  layer: string;
  /** Index among the layers with that name (0 = outermost); undefined = every one. */
  index: number | undefined;
  /** undefined = the whole layer. */
  field: string | undefined;
}

const MASK_RE = /^([A-Za-z][A-Za-z0-9]*)(?:\[(\d+)\])?(?:\.([A-Za-z_][A-Za-z0-9_]*))?$/;

export function parseMasks(dontCare: readonly string[]): Mask[] {
  return dontCare.map((text) => {
    const m = MASK_RE.exec(text.trim());
    if (!m)
      throw new Error(
        `bad don't-care field ${JSON.stringify(text)}: use Layer.field, Layer[i].field or Layer`,
      );
    return { layer: m[1]!, index: m[2] === undefined ? undefined : Number(m[2]), field: m[3] };
  });
}

function masked(masks: Mask[], layer: string, index: number, field: string): boolean {
  return masks.some(
    (m) =>
      m.layer === layer &&
      (m.index === undefined || m.index === index) &&
      (m.field === undefined || m.field === field),
  );
}

/** Field differences between two decoded layer stacks (empty = match). */
export function diffLayers(
  expected: readonly DecodedLayer[],
  actual: readonly DecodedLayer[],
  masks: Mask[],
): FieldDifference[] {
  const diffs: FieldDifference[] = [];
  const seen = new Map<string, number>();
  // Trailing Padding on the wire (short frames padded to 60 bytes) is not part of the packet.
  const act = actual.filter((l, i) => !(l.layer === 'Padding' && i === actual.length - 1));
  const exp = expected.filter((l, i) => !(l.layer === 'Padding' && i === expected.length - 1));
  const n = Math.max(exp.length, act.length);
  for (let i = 0; i < n; i += 1) {
    const e = exp[i];
    const a = act[i];
    const name = e?.layer ?? a?.layer ?? '?';
    const index = seen.get(name) ?? 0;
    seen.set(name, index + 1);
    if (!e || !a || e.layer !== a.layer) {
      if (e && masked(masks, e.layer, index, '*') && !a) continue;
      diffs.push({ path: `layer[${i}]`, expected: e?.layer, actual: a?.layer });
      continue;
    }
    const label = index === 0 ? name : `${name}[${index}]`;
    for (const field of Object.keys(e)) {
      if (field === 'layer') continue;
      if (masked(masks, name, index, field)) continue;
      if (JSON.stringify(e[field]) !== JSON.stringify(a[field])) {
        diffs.push({ path: `${label}.${field}`, expected: e[field], actual: a[field] });
      }
    }
  }
  return diffs;
}

export function comparePackets(
  expected: readonly DecodedLayer[],
  packets: readonly DecodedPacket[],
  options: { dontCare: readonly string[]; count: number; noOthers: boolean },
): ExpectPacketsResult {
  const masks = parseMasks(options.dontCare);
  let matched = 0;
  const unmatched: DecodedPacket[] = [];
  let closest: FieldDifference[] | undefined;
  for (const packet of packets) {
    const diffs = diffLayers(expected, packet.layers, masks);
    if (diffs.length === 0) matched += 1;
    else {
      unmatched.push(packet);
      if (!closest || diffs.length < closest.length) closest = diffs;
    }
  }
  let reason: string | undefined;
  if (matched < options.count) {
    reason = `expected ${options.count} matching packet(s), saw ${matched} of ${packets.length} captured`;
    if (closest)
      reason += `; closest differs in ${closest.map((d) => `${d.path} (expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.actual)})`).join(', ')}`;
  } else if (options.noOthers && unmatched.length > 0) {
    reason = `${unmatched.length} other packet(s) captured besides the expected one(s)`;
  }
  return {
    ok: reason === undefined,
    matched,
    unmatched,
    ...(closest ? { closest } : {}),
    packets: [...packets],
    ...(reason ? { reason } : {}),
  };
}
