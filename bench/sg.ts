/**
 * `npm run bench -- sg [--lab labs/default.clab.yml] [--changes 200] [--members 10000] [--implementation reference] [--intent file] [--keep]`:
 * deploys the lab (give a private copy: its name is the lab's), provisions bench/_sg-intent.yml
 * (eight client VMs over the four hypervisors of both zones, db VMs on hv2 and hv3, app → db 3306)
 * through the implementation driver, then makes `changes` membership changes: client i joins app,
 * later leaves it, round-robin over the clients (so both zones' hypervisors take turns). Each change
 * is timed from the API call until probes show it enforced on every hypervisor hosting an affected
 * VM: a join when the client completes a TCP connection to BOTH db VMs (its own hypervisor's egress,
 * hv2's and hv3's ingress; attempts overlap, one every 20 ms, so the probe's cadence adds at most
 * 20 ms), a leave when a fresh connection attempt to both is no longer answered.
 * Then `members` address-only members join app (driver.setBulkMembers) and hv2's datapath (db's
 * ingress must know every app member) is counted.
 *
 * With a lab whose reference roles run with OTWIN_REF_TRACE=1 (`&& exec env OTWIN_REF_TRACE=1 node`
 * in their `cmd:`), it also prints where the time goes, joins and leaves apart: API → own
 * controller → agents → BGP → other zone → enforced (bench/_attach-stages.ts).
 *
 * BENCH lines: sg_propagation_p50_ms|p95|p99 (ms from the API call), sg_elements_per_member (hv2's
 * membership elements / app members at `members`). Target (issue 13): p95 ≤ 200 ms on 2 cores.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Vm } from '../harness/scenario/intent.ts';
import { REPO_ROOT } from '../harness/scenario/suite/launch.ts';
import type { ProbeTarget } from '../harness/traffic/types.ts';
import { waitFor } from '../harness/util/poll.ts';
import { type AttachTiming, percentile, readTraces, stageTable } from './_attach-stages.ts';
import { deployForBench } from './_deploy.ts';

const now = () => performance.now();
const HVS = ['hv1', 'hv2', 'hv3', 'hv4'];
/** Nodes whose reference roles write trace lines when the lab starts them with OTWIN_REF_TRACE=1. */
const TRACED_NODES = ['directory', 'c1', 'c2', ...HVS];
/** One connection attempt: an unanswered one this long counts as blocked (a handshake here takes a few ms). */
const ATTEMPT_MS = 100;
/**
 * While waiting for a join, a new attempt starts this often, overlapping the unanswered ones: the
 * first reply then comes at most this long after the rules are in place, where one attempt at a
 * time added up to ATTEMPT_MS (about 50 ms on average) of probe cadence to every join.
 */
const JOIN_CADENCE_MS = 20;

/** When the first of overlapping attempts (one every JOIN_CADENCE_MS) is answered. */
function firstAllowed(attempt: () => Promise<{ verdict: string }>, overdue: () => void): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let done = false;
    const launch = () => {
      if (done) return;
      try {
        overdue();
      } catch (err) {
        done = true;
        clearInterval(timer);
        reject(err);
        return;
      }
      attempt().then(
        (r) => {
          if (done || r.verdict !== 'allowed') return;
          done = true;
          clearInterval(timer);
          resolve(now());
        },
        (err: unknown) => {
          if (done) return;
          done = true;
          clearInterval(timer);
          reject(err);
        },
      );
    };
    const timer = setInterval(launch, JOIN_CADENCE_MS);
    launch();
  });
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      lab: { type: 'string', default: join(REPO_ROOT, 'labs', 'default.clab.yml') },
      changes: { type: 'string', default: '200' },
      members: { type: 'string', default: '10000' },
      implementation: { type: 'string', default: 'reference' },
      // The intent: bench/_sg-intent.yml places zone controllers of the reference's lab; labs
      // without them (OVN) take bench/_sg-intent-nozones.yml, the same VMs, groups and rules.
      intent: { type: 'string', default: join(REPO_ROOT, 'bench', '_sg-intent.yml') },
      keep: { type: 'boolean', default: false },
    },
  });
  const changes = Number(values.changes);
  const members = Number(values.members);
  if (!Number.isInteger(changes) || changes < 2)
    throw new Error(`--changes ${values.changes}: give an integer ≥ 2`);
  if (!Number.isInteger(members) || members < 0 || members > 16_000)
    throw new Error(
      `--members ${values.members}: give an integer from 0 to 16000 (the bulk subnet is a /18)`,
    );
  const { driver, topo, runtime, lab, probes, ctx } = await deployForBench(
    values.intent,
    values.lab,
    values.implementation,
    'security-groups',
  );
  const intent = ctx.intent;
  try {
    await driver.provision({ apply: true, attach: [], detach: [], move: [], setGroups: [] }, ctx);
    await driver.ready?.(ctx);
    const target = (vm: Vm): ProbeTarget & { address: string } => {
      const loc = driver.locate(vm, ctx);
      return { name: vm.name, netnsPath: loc.node.netnsPath, address: loc.ip };
    };
    const dbs = intent.vms.filter((v) => v.groups.includes('db'));
    const clients = intent.vms.filter((v) => v.name.startsWith('sgb-x'));
    const listeners = await Promise.all(
      dbs.map((d) => probes.listen({ target: target(d), proto: 'tcp', port: 3306 })),
    );
    // The lab is up when a member of app reaches both db VMs: the first client joins, untimed.
    const times: number[] = [];
    const timings: Array<AttachTiming & { join: boolean }> = [];
    const timeOne = async (vm: Vm, join: boolean): Promise<number> => {
      vm.groups = join ? ['app'] : [];
      const called = now();
      await driver.provision(
        { apply: false, attach: [], detach: [], move: [], setGroups: [{ vm: vm.name, groups: vm.groups }] },
        ctx,
      );
      const tApi = now() - called;
      const from = target(vm);
      const seen = await Promise.all(
        dbs.map(async (d) => {
          const to = target(d).address;
          const overdue = () => {
            if (now() - called > 30_000)
              throw new Error(
                `${vm.name} ${join ? 'join' : 'leave'}: not enforced toward ${d.name} after 30 s`,
              );
          };
          if (join)
            return firstAllowed(() => probes.tcp({ from, to, port: 3306, timeoutMs: ATTEMPT_MS }), overdue);
          for (;;) {
            const started = now();
            const r = await probes.tcp({ from, to, port: 3306, timeoutMs: ATTEMPT_MS });
            if (r.verdict !== 'allowed') return started;
            overdue();
          }
        }),
      );
      timings.push({
        join,
        mac: vm.mac ?? '',
        hv: vm.hypervisor,
        t0: performance.timeOrigin + called,
        tApi,
        tReach: seen.map((t) => t - called),
        reachHvs: dbs.map((d) => d.hypervisor),
        doneLabel: `${join ? 'join' : 'leave'} enforced toward every db VM`,
      });
      return Math.max(...seen) - called;
    };
    // Start-up: the first join waits (up to 30 s per db VM) for the lab to converge; not counted.
    await timeOne(clients[0]!, true);
    await timeOne(clients[0]!, false);
    console.log(
      `${changes} membership changes over ${clients.length} clients on ${new Set(clients.map((c) => c.hypervisor)).size} hypervisors ...`,
    );
    timings.length = 0;
    for (let i = 0; i < changes; i++) {
      const vm = clients[Math.floor(i / 2) % clients.length]!;
      times.push(await timeOne(vm, i % 2 === 0));
    }
    // Where the time goes, when the lab's roles were started with OTWIN_REF_TRACE=1 (else no lines).
    const traces = readTraces(topo.labDir, TRACED_NODES, (timings[0]?.t0 ?? 0) - 1000);
    if (traces.length)
      for (const join of [true, false]) {
        console.log(`stages of the ${join ? 'joins' : 'leaves'}:`);
        for (const line of stageTable(
          traces,
          timings.filter((t) => t.join === join),
          HVS,
        ))
          console.log(line);
      }
    await probes.unlisten(listeners);
    const sorted = [...times].sort((a, b) => a - b);
    const p = (q: number) => percentile(sorted, q).toFixed(1);
    console.log(
      `propagation (API call → enforced on every affected hypervisor): p50 ${p(50)} ms, p95 ${p(95)} ms, p99 ${p(99)} ms, max ${sorted.at(-1)?.toFixed(1)} ms`,
    );
    let perMember = Number.NaN;
    if (members > 0 && driver.setBulkMembers && driver.securityDatapath) {
      console.log(`${members} address-only members join app ...`);
      await driver.setBulkMembers({ group: 'app', count: members, subnet: 'sgb-bulk' }, ctx);
      const hv = lab.node('hv2');
      const total = members + clients.filter((c) => c.groups.includes('app')).length;
      const readHv = driver.securityDatapath.bind(driver);
      const counts = await waitFor(
        () => readHv(hv, ctx),
        (c) => c.memberElements >= total,
        { timeoutMs: 600_000, intervalMs: 2000, what: `${total} app members in hv2's datapath` },
      );
      perMember = counts.memberElements / total;
      console.log(
        `hv2 with ${total} app members: ${counts.aclEntries} ACL entries, ${counts.memberElements} member elements`,
      );
    } else if (members > 0)
      console.log(`implementation ${driver.name} cannot add address-only members: no elements figure`);
    // Another implementation's figures carry its name (ovn_sg_propagation_p95_ms beside the reference's).
    const metric = (m: string) => (driver.name === 'reference' ? m : `${driver.name}_${m}`);
    console.log(`BENCH ${metric('sg_propagation_p50_ms')} ${p(50)} ms`);
    console.log(`BENCH ${metric('sg_propagation_p95_ms')} ${p(95)} ms`);
    console.log(`BENCH ${metric('sg_propagation_p99_ms')} ${p(99)} ms`);
    if (!Number.isNaN(perMember))
      console.log(`BENCH ${metric('sg_elements_per_member')} ${perMember.toFixed(3)} elements`);
  } finally {
    await probes.stop();
    if (!values.keep) await runtime.destroy(topo);
  }
}
