/**
 * The zone controller process.
 *   node bin/run-ts.js reference-impl/bin/controller.ts --id c1 --zone z1 --listen 0.0.0.0:6640 \
 *     --directory http://172.20.20.2:8080 --token-file /etc/otf/token --secret-file /etc/otf/agent.secret \
 *     --router-id 172.20.20.11 --local-as 65000 --peer 172.20.20.21:65000 [--peer ...] \
 *     [--dup-mac-moves 5 --dup-mac-window 180] [--graceful-restart 120]
 * Without --peer the controller runs without BGP (single-zone labs). Secrets come from 0600 files
 * (--token-file: the directory's API token; --secret-file: the controller↔agent shared secret);
 * --init-secrets creates missing ones (labs). Duplicate MAC detection (RFC 7432 §15.1): a MAC moving
 * --dup-mac-moves times within --dup-mac-window seconds is frozen and alarmed; --dup-mac-moves 0: off.
 * --graceful-restart N: RFC 4724 with restart time N s (the reflector keeps the routes stale while the
 * controller restarts; End-of-RIB after the first full set of routes), catalogue FED-5.
 */
import { parseArgs } from 'node:util';
import { Controller } from '../controller/controller.ts';
import { BgpEvpnTransport, MemoryEvpnFabric } from '../controller/evpn.ts';
import { DirectoryClient } from '../directory/client.ts';
import { roleSecret } from './secrets.ts';

const { values } = parseArgs({
  options: {
    id: { type: 'string' },
    zone: { type: 'string' },
    listen: { type: 'string', default: '0.0.0.0:6640' },
    directory: { type: 'string' },
    token: { type: 'string' },
    'token-file': { type: 'string' },
    secret: { type: 'string' },
    'secret-file': { type: 'string' },
    'init-secrets': { type: 'boolean', default: false },
    'router-id': { type: 'string' },
    'local-as': { type: 'string', default: '65000' },
    peer: { type: 'string', multiple: true, default: [] },
    'hold-time': { type: 'string', default: '9' },
    'graceful-restart': { type: 'string' },
    'dup-mac-moves': { type: 'string', default: '5' },
    'dup-mac-window': { type: 'string', default: '180' },
  },
});
const fail = (message: string): never => {
  console.error(`controller: ${message}`);
  process.exit(2);
};
if (!values.zone) fail('--zone is required');
if (!values.directory) fail('--directory <url> is required');
const token = roleSecret('controller', values, 'token', process.env.DIRECTORY_TOKEN);
const agentSecret = roleSecret('controller', values, 'secret');
const [host, port] = (values.listen as string).split(':');
const log = (line: string) => console.log(line);
const id = values.id ?? `${values.zone}-controller`;
const peers = (values.peer as string[]).map((p) => {
  const [address, asn] = p.split(':');
  if (!address) fail(`--peer ${p}: expected <address>:<asn>`);
  return { address: address as string, remoteAs: Number(asn ?? values['local-as']) };
});
const dupMoves = Number(values['dup-mac-moves']);
const dupWindowSeconds = Number(values['dup-mac-window']);
if (!Number.isInteger(dupMoves) || dupMoves === 1 || dupMoves < 0)
  fail(`--dup-mac-moves ${values['dup-mac-moves']}: expected 0 (detection off) or an integer ≥ 2`);
if (!(dupWindowSeconds > 0)) fail(`--dup-mac-window ${values['dup-mac-window']}: expected seconds > 0`);
const duplicateMac = dupMoves === 0 ? null : { moves: dupMoves, windowMs: dupWindowSeconds * 1000 };
let evpn: ConstructorParameters<typeof Controller>[0]['evpn'];
if (peers.length) {
  if (!values['router-id']) fail('--router-id is required with --peer');
  evpn = new BgpEvpnTransport({
    localAs: Number(values['local-as']),
    routerId: values['router-id'] as string,
    peers,
    holdTime: Number(values['hold-time']),
    ...(values['graceful-restart'] ? { gracefulRestartTime: Number(values['graceful-restart']) } : {}),
    log,
    traceRole: `controller:${id}`,
  });
} else {
  evpn = new MemoryEvpnFabric().member(values['router-id'] ?? '0.0.0.0');
}
const controller = new Controller({
  id,
  zone: values.zone as string,
  listen: { host: host || '0.0.0.0', port: Number(port || 6640) },
  directory: new DirectoryClient({ url: values.directory as string, token }),
  evpn,
  agentSecret,
  duplicateMac,
  log,
});
await controller.start();
const stop = async () => {
  await controller.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
