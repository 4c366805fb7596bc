/**
 * bgp-announce: a foreign BGP speaker announces EVPN type-2 routes into a route reflector (EVPN-4: routes
 * whose route target a VTEP does not import; AZ-7-like injections). The speaker runs inside the
 * reflector's namespace and peers from a fresh address next to the BGP tap's (node labels
 * `otwin.bgp-tap.address` / `otwin.bgp-tap.peer`, so the lab's tap listen range accepts it). Revert:
 * withdraw, close the session, remove the address.
 */
import { type EvpnMacIp, SpeakerProcess } from '../../bgp/index.ts';
import { HarnessError } from '../../util/errors.ts';
import type { ScenarioContext } from '../context.ts';
import { arr } from '../values.ts';
import { type FaultDefinition, forDuration, type Revert } from './types.ts';

/** A type-2 route a foreign speaker announces. */
export interface AnnouncedRoute {
  vni: number;
  mac: string;
  ip: string | undefined;
  nextHop: string;
  /** Route target carried (`65000:100`). */
  rt: string;
}

export interface BgpAnnounceFault {
  kind: 'bgp-announce';
  node: string;
  routes: AnnouncedRoute[];
  durationMs: number | undefined;
}

const nextAddress = (ip: string, step: number): string => {
  const parts = ip.split('.').map(Number);
  parts[3] = (parts[3]! + step) % 256;
  return parts.join('.');
};

async function announce(fault: BgpAnnounceFault, ctx: ScenarioContext): Promise<Revert> {
  const node = ctx.node(fault.node);
  const labels = ctx.lab.topology.nodes.find((n) => n.name === fault.node)?.labels ?? {};
  const peer = labels['otwin.bgp-tap.peer'];
  const tapAddress = labels['otwin.bgp-tap.address'];
  if (!peer || !tapAddress)
    throw new HarnessError(`${fault.node}: bgp-announce needs the otwin.bgp-tap.peer/address labels`);
  const summary = await node.exec(['vtysh', '-c', 'show bgp l2vpn evpn summary json']);
  const asn = Number((JSON.parse(summary.stdout || '{}') as { as?: number }).as ?? Number.NaN);
  if (!Number.isFinite(asn)) throw new HarnessError(`${fault.node}: no BGP AS number`);
  const local = nextAddress(tapAddress, 1);
  const added = await node.exec(['ip', 'addr', 'add', `${local}/32`, 'dev', 'lo']);
  const removeAddress = async () => {
    if (added.exitCode === 0) await node.exec(['ip', 'addr', 'del', `${local}/32`, 'dev', 'lo']);
  };
  let speaker: SpeakerProcess | undefined;
  try {
    speaker = await SpeakerProcess.start({
      netnsPath: node.netnsPath,
      speaker: {
        localAs: asn,
        routerId: local,
        localAddress: local,
        holdTime: 9,
        connectRetryMs: 1000,
        families: ['l2vpn-evpn'],
        peers: [{ address: peer, remoteAs: asn }],
      },
    });
    await speaker.waitEstablished(15_000, `bgp-announce session with ${fault.node}`);
  } catch (err) {
    await speaker?.close().catch(() => undefined);
    await removeAddress();
    throw err;
  }
  const announced: EvpnMacIp[] = [];
  for (const r of fault.routes) {
    const route: EvpnMacIp = {
      afi: 'l2vpn-evpn',
      type: 2,
      rd: `${local}:${r.vni % 65536}`,
      esi: '00:00:00:00:00:00:00:00:00:00',
      ethTag: 0,
      mac: r.mac.toLowerCase(),
      ...(r.ip ? { ip: r.ip } : {}),
      labels: [r.vni],
    };
    speaker.announce([route], {
      nextHop: r.nextHop,
      extCommunities: [
        { type: 'route-target', value: r.rt },
        { type: 'encapsulation', tunnelType: 8 },
      ],
    });
    announced.push(route);
  }
  ctx.reporter.log(
    `bgp-announce into ${fault.node} from ${local}: ${fault.routes.map((r) => `${r.mac} vni ${r.vni} rt ${r.rt} nh ${r.nextHop}`).join('; ')}`,
  );
  const running = speaker;
  return async () => {
    running.withdraw(announced);
    // Closing the session (NOTIFICATION Cease) makes the reflector drop whatever is left of it.
    await running.close();
    await removeAddress();
  };
}

export const bgpAnnounce: FaultDefinition<BgpAnnounceFault> = {
  kind: 'bgp-announce',
  required: ['node', 'routes'],
  optional: [],
  properties: {
    node: { $ref: '#/definitions/name' },
    routes: {
      description:
        'bgp-announce: type-2 routes a foreign speaker announces into the node (a route reflector), at most 1,000.',
      type: 'array',
      minItems: 1,
      maxItems: 1000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['vni', 'mac', 'nextHop', 'rt'],
        properties: {
          vni: { type: 'integer', minimum: 1, maximum: 16777215 },
          mac: { $ref: '#/definitions/mac' },
          ip: { type: 'string' },
          nextHop: { type: 'string' },
          rt: { type: 'string' },
        },
      },
    },
  },
  duration: true,
  chaos: true,
  undoes: false,
  parse: (raw, durationMs) => ({
    kind: 'bgp-announce',
    node: String(raw.node),
    routes: arr(raw.routes).map((r) => ({
      vni: Number(r.vni),
      mac: String(r.mac),
      ip: r.ip as string | undefined,
      nextHop: String(r.nextHop),
      rt: String(r.rt),
    })),
    durationMs,
  }),
  describe: (f) => `bgp-announce ${f.routes.length} type-2 route(s) into ${f.node}${forDuration(f)}`,
  target: (f) => `node:${f.node}`,
  apply: announce,
};
