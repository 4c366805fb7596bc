/**
 * `otwin bgp tap -t <lab file> --node <rr> [...]`: peers with a route reflector of a deployed lab from
 * inside its node's network namespace and prints every received route (the tap's transcript) as JSON
 * lines until stopped. The RR must have the tap configured as a neighbour (see docs/bgp.md).
 */
import { parseArgs } from 'node:util';
import { BgpTap } from '../../bgp/tap.ts';
import type { Family } from '../../bgp/types.ts';
import { getRuntime, resolveRuntimeName } from '../../runtime/index.ts';
import { loadTopology } from '../../topology/load.ts';
import { UserError } from '../../util/errors.ts';

export const summary = 'BGP tools: `bgp tap` prints the routes a route reflector sends, as JSON lines';

const HELP = `usage: otwin bgp tap -t <lab file> --node <rr> [options]

Runs a passive BGP tap (it advertises nothing) inside the node's network namespace, peering with the
node's BGP speaker, and prints every transcript entry (announce / withdraw / end-of-rib / malformed /
established / down) as one JSON line on stdout until Ctrl-C.

options:
  -t, --topo <file>         the lab's topology file (the lab must be deployed)
      --node <name>         the route reflector's node name
      --peer <address>      the RR's address (default 10.99.0.1, see below)
      --local-address <a>   the tap's source address (default 10.99.0.2 with the default --peer)
      --as <asn>            the RR's AS (default 65000)
      --local-as <asn>      the tap's AS (default: --as, i.e. iBGP as an RR client)
      --router-id <id>      the tap's BGP identifier (default: the local address, else 192.0.2.254)
      --families <list>     comma-separated: l2vpn-evpn,ipv4-vpn,ipv4-unicast (default l2vpn-evpn,ipv4-vpn)
      --passive             wait for the RR to connect (listen on port 179) instead of connecting
      --runtime <name>      netns (default) or containerlab; also $OTWIN_RUNTIME

Without --peer the tap needs no lab link: it adds 10.99.0.1/32 and 10.99.0.2/32 to the node's lo
(removed again when it stops) and peers from .2 to .1 inside the node. (Not 127.0.0.x: FRR 8.4 resets
such sessions with "nexthop_set failed", NOTIFICATION 5/0.) The RR needs the tap as a neighbour, e.g.
in its frr.conf:
  router bgp 65000
   neighbor TAP peer-group
   neighbor TAP remote-as 65000
   bgp listen range 10.99.0.0/16 peer-group TAP
   address-family l2vpn evpn
    neighbor TAP activate
    neighbor TAP route-reflector-client
   exit-address-family
  exit`;

const TAP_RR_ADDRESS = '10.99.0.1';
const TAP_ADDRESS = '10.99.0.2';

const FAMILIES: Family[] = ['l2vpn-evpn', 'ipv4-vpn', 'ipv4-unicast'];

function asNumber(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff)
    throw new UserError(`otwin bgp tap: ${flag} must be an AS number (1–4294967295), not '${text}'`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    console.log(HELP);
    return sub ? 0 : 2;
  }
  if (sub !== 'tap')
    throw new UserError(`otwin bgp: unknown sub-command '${sub}'`, { hint: 'run `otwin bgp --help`' });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rest);
  } catch (err) {
    throw new UserError(`otwin bgp tap: ${(err as Error).message}`, { hint: 'run `otwin bgp --help`' });
  }
  const { values } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.topo)
    throw new UserError('otwin bgp tap: -t <lab file> is required', { hint: 'run `otwin bgp --help`' });
  if (!values.node)
    throw new UserError('otwin bgp tap: --node <rr> is required', { hint: 'run `otwin bgp --help`' });
  const families = (values.families ?? 'l2vpn-evpn,ipv4-vpn').split(',').map((f) => f.trim());
  for (const f of families)
    if (!(FAMILIES as string[]).includes(f))
      throw new UserError(`otwin bgp tap: unknown family '${f}'`, {
        hint: `use some of: ${FAMILIES.join(', ')}`,
      });
  const peerAs = asNumber(values.as, '--as', 65000);
  const localAs = asNumber(values['local-as'], '--local-as', peerAs);
  const peerAddress = values.peer ?? TAP_RR_ADDRESS;
  const onLoopback = values.peer === undefined;
  const localAddress = values['local-address'] ?? (onLoopback ? TAP_ADDRESS : undefined);
  const routerId =
    values['router-id'] ??
    (localAddress && /^\d+\.\d+\.\d+\.\d+$/.test(localAddress) ? localAddress : '192.0.2.254');

  const topology = await loadTopology(values.topo);
  const runtime = await getRuntime(resolveRuntimeName(values.runtime));
  const lab = await runtime.attach(topology);
  if (!lab)
    throw new UserError(`lab ${topology.name} is not deployed`, {
      hint: `run \`otwin lab deploy -t ${values.topo}\` first`,
    });
  const node = lab.nodes.get(values.node);
  if (!node)
    throw new UserError(`lab ${topology.name} has no node '${values.node}'`, {
      hint: `nodes: ${[...lab.nodes.keys()].join(', ')}`,
    });

  const added: string[] = [];
  if (onLoopback) {
    for (const addr of [TAP_RR_ADDRESS, localAddress ?? TAP_ADDRESS]) {
      const res = await node.exec(['ip', 'addr', 'add', `${addr}/32`, 'dev', 'lo']);
      if (res.exitCode === 0) added.push(addr);
    }
  }
  const removeAdded = async () => {
    for (const addr of added) await node.exec(['ip', 'addr', 'del', `${addr}/32`, 'dev', 'lo']);
  };
  let tap: BgpTap;
  try {
    tap = await BgpTap.start({
      netnsPath: node.netnsPath,
      peerAddress,
      ...(localAddress ? { localAddress } : {}),
      localAs,
      peerAs,
      routerId,
      families: families as Family[],
      ...(values.passive ? { passive: true } : {}),
    });
  } catch (err) {
    await removeAdded();
    throw err;
  }
  tap.rib.onEntry((e) => process.stdout.write(`${JSON.stringify(e)}\n`));
  process.stderr.write(
    `otwin bgp tap: peering with ${peerAddress} (AS ${peerAs}) from ${localAddress ?? 'any address'} in node ${node.name}; Ctrl-C stops\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await tap.stop();
  await removeAdded();
  return 0;
}

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      topo: { type: 'string', short: 't' },
      node: { type: 'string' },
      peer: { type: 'string' },
      'local-address': { type: 'string' },
      as: { type: 'string' },
      'local-as': { type: 'string' },
      'router-id': { type: 'string' },
      families: { type: 'string' },
      passive: { type: 'boolean' },
      runtime: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}
