/**
 * `npm run bench -- svc-failover [--lab labs/default.clab.yml] [--failovers 10] [--implementation reference] [--keep]`:
 * deploys the lab (give a private copy: its name is the lab's), provisions the intent of
 * scenarios/svc/svc-5-failover.yml (chain svc5-a → svc5-b through svc5-fw1, standby svc5-fw2), makes
 * both appliances forward, then `failovers` times: waits until the chain runs through svc5-fw1 again
 * (a stream that svc5-fw1 receives, then stopped: a failback blackout is not the failover's), starts a
 * 100 pps UDP stream A → B, after 500 ms kills svc5-fw1 (its interface down, as the vm-kill fault
 * does), lets the stream run 3 s, and takes the stream's loss window (its longest blackout, as the measure
 * step computes it); then brings svc5-fw1 back.
 *
 * BENCH lines: svc_failover_loss_ms (median), svc_failover_loss_p95_ms (docs/service-chaining.md).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { lossWindowMs } from '../harness/scenario/steps/measure.ts';
import { REPO_ROOT } from '../harness/scenario/suite/launch.ts';
import { monoNowMs, startStream } from '../harness/traffic/index.ts';
import { sleep } from '../harness/util/poll.ts';
import { percentile } from './_attach-stages.ts';
import { deployForBench } from './_deploy.ts';

const RATE_PPS = 100;
const BEFORE_KILL_MS = 500;
const AFTER_KILL_MS = 3000;

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      lab: { type: 'string', default: join(REPO_ROOT, 'labs', 'default.clab.yml') },
      failovers: { type: 'string', default: '10' },
      implementation: { type: 'string', default: 'reference' },
      keep: { type: 'boolean', default: false },
    },
  });
  const failovers = Number(values.failovers);
  if (!Number.isInteger(failovers) || failovers < 1)
    throw new Error(`--failovers ${values.failovers}: give an integer ≥ 1`);
  const { driver, topo, runtime, probes, ctx } = await deployForBench(
    join(REPO_ROOT, 'scenarios', 'svc', 'svc-5-failover.yml'),
    values.lab,
    values.implementation,
    'service-chains',
  );
  const vm = (name: string) => {
    const found = ctx.intent.vms.find((v) => v.name === name);
    if (!found) throw new Error(`svc-5-failover.yml has no VM ${name}`);
    return { vm: found, ...driver.locate(found, ctx) };
  };
  try {
    await driver.provision({ apply: true, attach: [], detach: [], move: [], setGroups: [] }, ctx);
    await driver.ready?.(ctx);
    const [a, b, fw1, fw2] = ['svc5-a', 'svc5-b', 'svc5-fw1', 'svc5-fw2'].map(vm) as [
      ReturnType<typeof vm>,
      ReturnType<typeof vm>,
      ReturnType<typeof vm>,
      ReturnType<typeof vm>,
    ];
    for (const fw of [fw1, fw2])
      await fw.node.exec(['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0']);
    const rxPackets = async (): Promise<number> => {
      const r = await fw1.node.exec(['ip', '-j', '-s', 'link', 'show', fw1.iface]);
      const link = (JSON.parse(r.stdout || '[]') as Array<{ stats64?: { rx?: { packets?: number } } }>)[0];
      return link?.stats64?.rx?.packets ?? 0;
    };
    const windows: number[] = [];
    const streamAB = (port: number) =>
      startStream(probes, {
        from: { name: 'svc5-a', netnsPath: a.node.netnsPath },
        to: { name: 'svc5-b', netnsPath: b.node.netnsPath },
        address: b.ip,
        proto: 'udp',
        ratePps: RATE_PPS,
        port,
      });
    for (let i = 0; i < failovers; i++) {
      // The chain runs through svc5-fw1 again (after the previous failback) when it receives a stream.
      // That stream is not the measured one: a blackout of the failback must not count as the failover's.
      const settle = await streamAB(7600 + 2 * i);
      const deadline = performance.now() + 30_000;
      try {
        for (let before = await rxPackets(); ; ) {
          await sleep(300);
          const now = await rxPackets();
          if (now - before >= (RATE_PPS * 300) / 1000 / 2) break;
          if (performance.now() > deadline) throw new Error('the chain never came back to svc5-fw1 (30 s)');
          before = now;
        }
      } finally {
        await settle.stop();
      }
      // As the scenario's measure step: the stream flows BEFORE_KILL_MS, then svc5-fw1 dies.
      const stream = await streamAB(7601 + 2 * i);
      await sleep(BEFORE_KILL_MS);
      const killedAt = monoNowMs();
      await fw1.node.exec(['ip', 'link', 'set', fw1.iface, 'down']);
      await sleep(AFTER_KILL_MS);
      const report = await stream.stop();
      await fw1.node.exec(['ip', 'link', 'set', fw1.iface, 'up']);
      const ms = lossWindowMs(report);
      windows.push(ms);
      const gap = report.longestGap;
      console.log(
        `failover ${i + 1}: loss window ${Math.round(ms)} ms (${report.lost} of ${report.sent} lost, ${report.sendErrors} send errors${gap ? `, gap seq ${gap.lastSeqBefore}→${gap.firstSeqAfter}` : ''}${gap ? `; longest gap from ${Math.round(gap.startMonoMs - killedAt)} ms after the kill` : ''})`,
      );
    }
    const sorted = [...windows].sort((x, y) => x - y);
    const p = (q: number) => percentile(sorted, q).toFixed(1);
    console.log(
      `loss window (svc5-fw1 killed → the stream flows through svc5-fw2): median ${p(50)} ms, p95 ${p(95)} ms, min ${sorted[0]?.toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms`,
    );
    console.log(`BENCH svc_failover_loss_ms ${p(50)} ms`);
    console.log(`BENCH svc_failover_loss_p95_ms ${p(95)} ms`);
  } finally {
    await probes.stop();
    if (!values.keep) await runtime.destroy(topo);
  }
}
