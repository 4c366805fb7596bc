/**
 * The OVN lab (labs/ovn.clab.yml) under a private name: deployed, the L3-1 pack's VMs attached through
 * the ovn driver (w1/w2 on one logical switch on hv1/hv2, p2 routed on hv3), ping and a TCP connection
 * across chassis, then teardown and destroy leave no namespace, mount or process, and every OVN/OVS
 * daemon the lab started is gone. Skipped with the reason when OVN is not installed.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../harness/kernel/procs.ts';
import { copyLab, leftovers, removeDir, uniqueLabName } from '../../harness/runtime/netns/fixtures/labs.ts';
import { type NetnsLab, NetnsRuntime } from '../../harness/runtime/netns/index.ts';
import type { DriverContext } from '../../harness/scenario/drivers/driver.ts';
import { loadScenario } from '../../harness/scenario/parse.ts';
import { loadTopology } from '../../harness/topology/load.ts';
import type { Topology } from '../../harness/topology/types.ts';
import { pollUntil } from '../../harness/util/poll.ts';
import { OvnDriver } from './driver.ts';

const OVN_BINARIES = ['/usr/bin/ovn-northd', '/usr/bin/ovn-controller', '/usr/sbin/ovs-vswitchd'];
const missing = OVN_BINARIES.filter((b) => !existsSync(b));
const DAEMONS = ['ovsdb-server', 'ovn-northd', 'ovs-vswitchd', 'ovn-controller'];

/** A TCP server in one VM that accepts one connection and prints the peer's address. */
const SERVER = `import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 8080)); s.listen(1); s.settimeout(20)
c, peer = s.accept(); c.sendall(b'hello'); print(peer[0]); c.close()`;
const CLIENT = `import socket, sys, time
for _ in range(100):
    try:
        s = socket.create_connection((sys.argv[1], 8080), timeout=2); print(s.recv(5).decode()); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(1)`;

const runtime = new NetnsRuntime();
let topology: Topology | undefined;
let dir: string | undefined;
afterAll(async () => {
  if (topology) await runtime.destroy(topology).catch(() => {});
  if (dir) removeDir(dir);
});

describe.skipIf(missing.length > 0)(
  `the OVN lab${missing.length ? ` (not installed: ${missing.join(', ')})` : ''}`,
  () => {
    it('deploys, carries ping and TCP across chassis (bridged and routed), and destroy leaves nothing', async () => {
      const copy = copyLab('ovn.clab.yml', uniqueLabName('ovn'));
      dir = copy.dir;
      topology = await loadTopology(copy.file);
      const lab: NetnsLab = await runtime.deploy(topology);
      const driver = new OvnDriver();
      // The L3-1 pack's intent: w1 (web, hv1), w2 (web, hv2), p2 (app, hv3), p1 (app, hv2).
      const scenario = loadScenario(
        resolve(import.meta.dirname, '../../scenarios/ovn/l3-1-direct-routing.yml'),
      );
      const ctx: DriverContext = {
        lab,
        intent: scenario.intent,
        scenario,
        log: () => {},
        accepted: () => {},
      };
      await driver.provision({ apply: true, attach: [], detach: [], move: [], setGroups: [] }, ctx);
      await driver.ready(ctx);
      const at = (name: string) => driver.locate(ctx.intent.vms.find((v) => v.name === name)!, ctx);
      const [w1, w2, p2] = [at('w1'), at('w2'), at('p2')];

      // Ping w1 (hv1) → w2 (hv2) on one logical switch, and w1 → p2 (hv3) through the logical router:
      // polled, since the first packets may arrive before ovn-controller installed every flow.
      for (const to of [w2, p2]) {
        const ping = await pollUntil(
          () => w1.node.exec(['ping', '-c', '1', '-W', '1', to.ip], { timeoutMs: 5_000 }),
          (r) => r.exitCode === 0,
          { timeoutMs: 20_000, intervalMs: 100, what: `ping ${to.ip}` },
        );
        expect(ping.ok, `ping w1 → ${to.ip}`).toBe(true);
      }

      // A TCP connection w1 → w2 (the checksum pitfall breaks TCP while ping works).
      const server = w2.node.exec(['/usr/bin/python3', '-c', SERVER], { timeoutMs: 30_000 });
      const client = await w1.node.exec(['/usr/bin/python3', '-c', CLIENT, w2.ip], { timeoutMs: 30_000 });
      const served = await server;
      expect(client.exitCode, client.stderr).toBe(0);
      expect(client.stdout.trim()).toBe('hello');
      expect(served.stdout.trim()).toBe(w1.ip);

      // The daemons the lab started, as host PIDs, before destroy.
      const pids: number[] = [];
      for (const node of ['central', 'hv1', 'hv2', 'hv3', 'hv4'])
        for (const role of DAEMONS) pids.push(...(await driver.processes(role, lab.node(node))));
      expect(pids.length).toBe(1 * 2 + 1 + 4 * 3); // central: NB+SB ovsdb-server, northd; each chassis: 3

      await driver.teardown(ctx);
      await runtime.destroy(topology);
      expect(pids.filter((pid) => isAlive(pid))).toEqual([]);
      expect(await leftovers(topology)).toEqual([]);
      topology = undefined;
    });
  },
);
