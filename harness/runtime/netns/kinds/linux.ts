/**
 * Plain Linux host: any image without a profile (network-multitool, alpine, ...). The node runs the
 * machine's own tools; it is configured only by its `exec:` lines (and `cmd:`, started by index.ts).
 */
import type { NodeProfile } from './profile.ts';

export const linuxProfile: NodeProfile = {
  name: 'linux',
  kinds: ['linux'],
  selects: () => true,
  hasMgmt: true,
  forwards: true,
  listed: true,
  prepare: () => [],
  ipLines: () => [],
  start: async () => {},
};
