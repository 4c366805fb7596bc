/**
 * labs/reference-2az.clab.yml under another name, so parallel runs (benchmarks, tests of several
 * people on one machine) never collide: every `otf-2az` replaced (lab, management network, VM
 * namespace prefix, the roles' files under labs/clab-<name>/), binds made absolute (the copy lives in
 * a temporary folder), and optionally the roles started with OTWIN_REF_TRACE=1.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BgpTap } from '../harness/bgp/index.ts';
import { getRuntime } from '../harness/runtime/index.ts';
import type { DeployedLab, Runtime } from '../harness/runtime/runtime.ts';
import { loadTopology } from '../harness/topology/load.ts';
import type { Topology } from '../harness/topology/types.ts';
import { waitFor } from '../harness/util/poll.ts';
import { type DirectoryClient, labTokenReader } from './directory/client.ts';

export const REPO = join(import.meta.dirname, '..');
export const LAB_2AZ_FILE = join(REPO, 'labs', 'reference-2az.clab.yml');
export const LAB_2AZ_NAME = 'otf-2az';

/** The lab file to deploy for `name`: the shipped file itself when nothing changes. */
export function lab2azFile(name: string, options: { traced?: boolean } = {}): string {
  if (name === LAB_2AZ_NAME && !options.traced) return LAB_2AZ_FILE;
  let text = readFileSync(LAB_2AZ_FILE, 'utf8')
    .replaceAll(LAB_2AZ_NAME, name)
    .replaceAll('- ..:/srv', `- ${REPO}:/srv`)
    .replaceAll('- reference/', `- ${join(REPO, 'labs', 'reference')}/`);
  if (options.traced) text = text.replaceAll('&& exec node ', '&& exec env OTWIN_REF_TRACE=1 node ');
  // A fixed folder per name: the next run's `destroy` finds a lab a crashed or kept run left.
  const dir = join(tmpdir(), `${name}-lab`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.clab.yml`);
  writeFileSync(file, text);
  return file;
}

/** Where the roles of the lab `name` keep their files (database, API socket, secrets). */
export function lab2azFiles(name: string) {
  const root = join(REPO, 'labs', `clab-${name}`);
  return {
    root,
    directory: join(root, 'directory'),
    socket: join(root, 'directory', 'api.sock'),
    /** The directory API token (created by the roles when the lab starts; read when first used). */
    token: labTokenReader(join(root, 'secrets', 'directory.token')),
  };
}

/**
 * Deploys the lab file afresh (a kept one is destroyed first, the directory starts empty), waits for
 * the directory API and peers a BGP tap with zone 1's reflector (from the directory node).
 */
export async function deployLab2az(
  file: string,
  files: ReturnType<typeof lab2azFiles>,
  client: DirectoryClient,
): Promise<{ topo: Topology; runtime: Runtime; lab: DeployedLab; tap: BgpTap }> {
  const topo = await loadTopology(file);
  const runtime = await getRuntime('netns');
  await runtime.destroy(topo).catch(() => {});
  rmSync(files.directory, { recursive: true, force: true });
  const lab = await runtime.deploy(topo, { reconfigure: true });
  await waitFor(
    () => client.healthy(),
    (ok) => ok,
    { timeoutMs: 30_000, what: 'directory up' },
  );
  const tap = await BgpTap.start({
    netnsPath: lab.node('directory').netnsPath,
    peerAddress: '172.20.61.21',
    localAs: 65000,
    peerAs: 65000,
    routerId: '172.20.61.10',
    families: ['l2vpn-evpn'],
  });
  await tap.waitEstablished(30_000);
  return { topo, runtime, lab, tap };
}

/** Zones z1 (hv1, hv2) and z2 (hv3, hv4), each hypervisor's VTEP 10.0.<n>.2: the two-zone labs' layout. */
export async function createTwoZones(client: DirectoryClient): Promise<void> {
  await client.create('zones', { id: 'z1', name: 'zone 1' });
  await client.create('zones', { id: 'z2', name: 'zone 2' });
  for (const n of [1, 2, 3, 4])
    await client.create('hypervisors', {
      id: `hv${n}`,
      name: `hv${n}`,
      zone: n <= 2 ? 'z1' : 'z2',
      vtep: `10.0.${n}.2`,
    });
}

/** The benchmarks' network: the two zones, one tenant, one domain and one subnet (VNI 7001, 10.7.0.0/21). */
export async function createBenchNetwork(client: DirectoryClient): Promise<void> {
  await createTwoZones(client);
  await client.create('tenants', { id: 't', name: 'bench' });
  await client.create('domains', { id: 'd', tenant: 't', name: 'bench' });
  await client.create('subnets', {
    id: 's',
    domain: 'd',
    name: 'bench',
    vni: 7001,
    prefix: '10.7.0.0/21',
    gateway: '10.7.0.1',
  });
}
