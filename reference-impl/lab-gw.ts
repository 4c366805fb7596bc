/**
 * labs/gw.clab.yml under another name (tests and the gw benchmark; parallel runs never collide): every
 * `otwin-gw` replaced, binds made absolute, optionally TEST-ONLY sabotage switches on the controllers.
 * `deployGwLab` deploys it afresh and provisions the directory: zones, hypervisors, one tenant/domain/
 * subnet (VNI 1601, 198.51.100.0/26), gateway gw1 (zone z1) and its binding eth2 VLAN 0 → the subnet.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRuntime } from '../harness/runtime/index.ts';
import type { DeployedLab, Runtime } from '../harness/runtime/runtime.ts';
import { loadTopology } from '../harness/topology/load.ts';
import type { Topology } from '../harness/topology/types.ts';
import { waitFor } from '../harness/util/poll.ts';
import { DirectoryClient, labTokenReader } from './directory/client.ts';
import { createTwoZones } from './lab-2az.ts';
import type { OvsdbOperationResult, OvsdbRow } from './ovsdb/types.ts';
import { uuidOf } from './ovsdb/types.ts';

const REPO = join(import.meta.dirname, '..');
export const GW_VNI = 1601;
export const GW_SUBNET = 'sg';
export const BARE_METAL = { ip: '198.51.100.50', mac: '02:00:16:00:00:50' };
export const GW_TUNNEL_IP = '10.0.5.2';

export interface GwLab {
  name: string;
  topo: Topology;
  runtime: Runtime;
  lab: DeployedLab;
  client: DirectoryClient;
  /** Node folders (next to the topology copy; removed by `destroy`): `<nodeDir>/gw1/ovs/db.sock` is the gateway's OVSDB. */
  nodeDir: string;
  /** Rows of a hardware_vtep table as the gateway's ovsdb-server returns them (JSON, by uuid). */
  select(table: string): Promise<Map<string, OvsdbRow>>;
  destroy(): Promise<void>;
}

export function gwLabFile(name: string, sabotage = ''): string {
  let text = readFileSync(join(REPO, 'labs', 'gw.clab.yml'), 'utf8')
    .replaceAll('otwin-gw', name)
    .replaceAll('- ..:/srv', `- ${REPO}:/srv`)
    .replaceAll('- default/', `- ${join(REPO, 'labs', 'default')}/`)
    .replaceAll('- gw/', `- ${join(REPO, 'labs', 'gw')}/`)
    .replaceAll('- gw:/opt', `- ${join(REPO, 'labs', 'gw')}:/opt`);
  if (sabotage)
    text = text.replaceAll(
      '&& exec node bin/run-ts.js reference-impl/bin/controller.ts',
      `&& exec env OTWIN_SABOTAGE=${sabotage} node bin/run-ts.js reference-impl/bin/controller.ts`,
    );
  const file = join(tmpdir(), `${name}.clab.yml`);
  writeFileSync(file, text);
  return file;
}

export async function deployGwLab(name: string, sabotage = ''): Promise<GwLab> {
  const root = join(REPO, 'labs', `clab-${name}`);
  const client = new DirectoryClient({
    url: `unix:${join(root, 'directory', 'api.sock')}`,
    token: labTokenReader(join(root, 'secrets', 'directory.token')),
    timeoutMs: 10_000,
  });
  const topo = await loadTopology(gwLabFile(name, sabotage));
  const runtime = await getRuntime('netns');
  await runtime.destroy(topo).catch(() => {});
  rmSync(join(root, 'directory'), { recursive: true, force: true });
  const lab = await runtime.deploy(topo, { reconfigure: true });
  await waitFor(
    () => client.healthy(),
    (ok) => ok,
    { timeoutMs: 60_000, what: 'directory up' },
  );
  await createTwoZones(client);
  await client.create('tenants', { id: 'tg', name: 'gw tenant' });
  await client.create('domains', { id: 'dg', tenant: 'tg', name: 'main' });
  await client.create('subnets', {
    id: GW_SUBNET,
    domain: 'dg',
    name: 'gw-net',
    vni: GW_VNI,
    prefix: '198.51.100.0/26',
    gateway: '198.51.100.1',
  });
  await client.create('gateways', { id: 'gw1', name: 'gw1', zone: 'z1', ovsdb: 'tcp:172.20.64.40:6640' });
  await client.create('gatewayBindings', {
    id: 'gw1-eth2-0',
    gateway: 'gw1',
    port: 'eth2',
    vlan: 0,
    subnet: GW_SUBNET,
  });
  return {
    name,
    topo,
    runtime,
    lab,
    client,
    nodeDir: join(tmpdir(), `clab-${name}`),
    async select(table) {
      const query = JSON.stringify(['hardware_vtep', { op: 'select', table, where: [] }]);
      const r = await lab
        .node('gw1')
        .exec(['ovsdb-client', 'query', 'unix:/var/lib/openvswitch/db.sock', query]);
      if (r.exitCode !== 0) throw new Error(`ovsdb-client query ${table}: ${r.stderr.trim()}`);
      const [result] = JSON.parse(r.stdout) as OvsdbOperationResult[];
      return new Map((result?.rows ?? []).map((row) => [uuidOf(row._uuid) ?? '', row]));
    },
    async destroy() {
      await runtime.destroy(topo);
      // The lab's folders: node folders next to the copy, the roles' files under labs/.
      rmSync(join(tmpdir(), `clab-${name}`), { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
      rmSync(join(tmpdir(), `${name}.clab.yml`), { force: true });
    },
  };
}
