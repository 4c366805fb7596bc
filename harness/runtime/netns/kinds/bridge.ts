/**
 * containerlab `kind: bridge`: a Linux bridge whose ports are the node's links. containerlab uses a
 * bridge in the host namespace; here it lives in the node's own namespace (named after the node), so a
 * lab never adds devices to the host. No management interface, like containerlab.
 */
import { isValidIfName } from '../names.ts';
import type { NodeProfile, ProfileContext } from './profile.ts';

export function bridgeDeviceName(ctx: Pick<ProfileContext, 'node' | 'ports'>): string {
  const name = ctx.node.name;
  return isValidIfName(name) && !ctx.ports.includes(name) && name !== 'lo' ? name : 'br0';
}

export const bridgeProfile: NodeProfile = {
  name: 'bridge',
  kinds: ['bridge'],
  selects: () => true,
  hasMgmt: false,
  forwards: false,
  listed: false,
  prepare: () => [],
  ipLines(ctx) {
    const br = bridgeDeviceName(ctx);
    return [
      `link add name ${br} type bridge`,
      ...ctx.ports.map((port) => `link set dev ${port} master ${br}`),
      `link set dev ${br} up`,
    ];
  },
  start: async () => {},
};
