/** Classic libpcap files (Ethernet link type) from sniffed frames, as the probe server writes them. */
import { writeFileSync } from 'node:fs';
import type { DecodedPacket } from './types.ts';

const SNAPLEN = 262_144;
const LINKTYPE_ETHERNET = 1;

export function pcapBytes(packets: readonly Pick<DecodedPacket, 'hex' | 'epochMs'>[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeInt32LE(0, 8);
  header.writeUInt32LE(0, 12);
  header.writeUInt32LE(SNAPLEN, 16);
  header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const parts = [header];
  for (const packet of packets) {
    const frame = Buffer.from(packet.hex, 'hex');
    const seconds = Math.floor(packet.epochMs / 1000);
    const record = Buffer.alloc(16);
    record.writeUInt32LE(seconds, 0);
    record.writeUInt32LE(Math.round((packet.epochMs - seconds * 1000) * 1000) % 1_000_000, 4);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    parts.push(record, frame);
  }
  return Buffer.concat(parts);
}

export function writePcap(path: string, packets: readonly Pick<DecodedPacket, 'hex' | 'epochMs'>[]): void {
  writeFileSync(path, pcapBytes(packets));
}
