/**
 * The hypervisor agent process (runs inside the hypervisor's network namespace).
 *   node bin/run-ts.js reference-impl/bin/agent.ts --hypervisor hv1 --zone z1 --vtep 10.0.1.11 \
 *     --controller 172.20.20.11:6640 [--controller 172.20.20.12:6640] --prefix otf-2az- [--mtu 1450] \
 *     --secret-file /etc/otf/agent.secret [--init-secrets]
 * --secret-file: the controller↔agent shared secret (mode 0600; --init-secrets creates it when missing);
 * the hello carries this hypervisor's credential derived from it.
 * --sg-mode stateful|stateless: security-group enforcement (default stateful; stateless = the ACL-only
 *   hypervisor switch profile, see reference-impl/agent/security.ts).
 * --hv-netns <name> programs a named namespace instead of the current one (fixtures).
 * --nice <n>: the agent's scheduling priority (and its session's, see raisePriority), inherited by
 *   every `ip`/`bridge`/`nft` it starts (default 0: leave it alone; -10 is what ovs-ctl gives
 *   ovs-vswitchd). An attach is a chain of short processes that wait for the CPU on a loaded host, but
 *   at -10 the agents starve the directory during bulk changes (SG-6's 10,000 members: 235 s against
 *   51 s at 0), so raising it is opt-in.
 * The agent never cleans up on exit: the datapath keeps forwarding while it is down.
 */
import { parseArgs } from 'node:util';
import { run } from '../../harness/util/exec.ts';
import { Agent } from '../agent/agent.ts';
import { raisePriority } from '../agent/priority.ts';
import { flushDatapath } from '../agent/sabotage-flush.ts';
import type { SgMode } from '../agent/security.ts';
import { sabotaged } from '../sabotage.ts';
import { roleSecret } from './secrets.ts';

const { values } = parseArgs({
  options: {
    hypervisor: { type: 'string' },
    zone: { type: 'string' },
    vtep: { type: 'string' },
    controller: { type: 'string', multiple: true, default: [] },
    prefix: { type: 'string', default: 'otf-' },
    mtu: { type: 'string' },
    'hv-netns': { type: 'string' },
    'audit-ms': { type: 'string', default: '60000' },
    secret: { type: 'string' },
    'secret-file': { type: 'string' },
    'init-secrets': { type: 'boolean', default: false },
    'sg-mode': { type: 'string', default: 'stateful' },
    nice: { type: 'string', default: '0' },
  },
});
const fail = (message: string): never => {
  console.error(`agent: ${message}`);
  process.exit(2);
};
if (!values.hypervisor) fail('--hypervisor is required');
if (!values.vtep) fail('--vtep <underlay IPv4> is required');
if (!(values.controller as string[]).length) fail('at least one --controller host:port is required');
if (values['sg-mode'] !== 'stateful' && values['sg-mode'] !== 'stateless')
  fail(`--sg-mode must be stateful or stateless, not ${values['sg-mode']}`);
const nice = Number(values.nice);
if (!Number.isInteger(nice) || nice < -20 || nice > 19)
  fail(`--nice must be an integer from -20 to 19, not ${values.nice}`);
if (nice !== 0) {
  for (const problem of raisePriority(nice))
    console.log(`agent ${values.hypervisor}: ${problem}; running at the default priority`);
}
const agentSecret = roleSecret('agent', values, 'secret');
let mtu = values.mtu ? Number(values.mtu) : 0;
if (!mtu) {
  // Overlay MTU = MTU of the device holding the VTEP address − 50 (VXLAN over IPv4).
  const ns = values['hv-netns'];
  const out = await run('ip', [...(ns ? ['-n', ns] : []), '-j', 'addr', 'show']);
  const links = JSON.parse(out.stdout || '[]') as Array<{
    mtu: number;
    addr_info?: Array<{ local: string }>;
  }>;
  const dev = links.find((l) => l.addr_info?.some((a) => a.local === values.vtep));
  if (!dev) fail(`no interface holds the VTEP address ${values.vtep}`);
  mtu = (dev?.mtu ?? 1500) - 50;
}
const agent = new Agent({
  prefix: values.prefix as string,
  hypervisor: values.hypervisor as string,
  hvNetns: values['hv-netns'],
  zone: values.zone,
  vtep: values.vtep as string,
  mtu,
  controllers: (values.controller as string[]).map((c) => {
    const [host, port] = c.split(':');
    return { host: host as string, port: Number(port || 6640) };
  }),
  auditMs: Number(values['audit-ms']),
  sgMode: values['sg-mode'] as SgMode,
  agentSecret,
  log: (line) => console.log(line),
});
if (sabotaged('flush-on-restart')) {
  // TEST-ONLY sabotage (reference-impl/sabotage.ts): flush, then let the controller's sync rebuild.
  const errors = await flushDatapath(agent.kernel);
  console.log(
    `agent ${values.hypervisor}: SABOTAGE flush-on-restart tore the datapath down (${errors.length} errors)`,
  );
}
agent.start();
console.log(
  `agent ${values.hypervisor}: vtep ${values.vtep}, overlay mtu ${mtu}, controllers ${(values.controller as string[]).join(', ')}`,
);
const stop = () => {
  agent.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
