/**
 * `npm run bench -- scale [--ports 10000[,50000]] [--hypervisors 500] [--spread 10] [--churn 300]
 * [--churn-rate 20] [--no-reflector] [--prefix <ns prefix>]`: the scale tier (docs/scale.md). For each port count: a fresh directory and
 * controller (their own processes) and `hypervisors` simulated hypervisors (this process); the ports
 * are created through the directory API (16 calls in flight) and each is timed from its API call to
 * the acknowledgement of the last relevant simulated hypervisor (SCALE-1). At the first port count,
 * `churn` security-group membership changes follow at `churn-rate` per second (SCALE-2), and the
 * controller's RSS/CPU and the programmed set elements are sampled along the ramp (SCALE-3).
 *
 * The controller peers with a real FRR route reflector (namespace `<prefix>rr`; `--no-reflector`: none,
 * in-memory EVPN); after the ramp its EVPN table must hold exactly the routes the intent implies.
 *
 * BENCH lines: scale_rr_routes, scale_rr_routes_ready_s (first port count; later ones
 * scale_rr_<N>_routes, scale_rr_<N>_routes_ready_s), scale_ports_<N>_p50_ms|p95_ms|p99_ms, scale_ports_<N>_wall_s, scale_ports_<N>_ready,
 * scale_controller_rss_mb_per_1k_ports, scale_churn_p95_ms (and p50/p99, rate), scale_growth_r2_rss.
 */
import { parseArgs } from 'node:util';
import { fixturePrefix } from '../harness/util/fixture-prefix.ts';
import { linearFit, runScale, scale2Verdict, scale3Verdict } from '../reference-impl/scale/run.ts';

const label = (n: number) => (n % 1000 === 0 ? `${n / 1000}k` : String(n));

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ports: { type: 'string', default: '10000' },
      hypervisors: { type: 'string', default: '500' },
      spread: { type: 'string', default: '10' },
      churn: { type: 'string', default: '300' },
      'churn-rate': { type: 'string', default: '20' },
      'no-reflector': { type: 'boolean', default: false },
      prefix: { type: 'string', default: fixturePrefix('osb', '-') },
    },
  });
  const counts = (values.ports as string).split(',').map(Number);
  const hypervisors = Number(values.hypervisors);
  if (
    counts.some((n) => !Number.isInteger(n) || n < 100) ||
    !Number.isInteger(hypervisors) ||
    hypervisors < 1
  )
    throw new Error('--ports takes integers ≥ 100 (comma-separated), --hypervisors an integer ≥ 1');
  const failures: string[] = [];
  for (const [i, ports] of counts.entries()) {
    console.log(`scale: ${ports} ports on ${hypervisors} simulated hypervisors ...`);
    const result = await runScale({
      ports,
      hypervisors,
      spread: Number(values.spread),
      ...(i === 0 && Number(values.churn) > 0
        ? { churn: { changes: Number(values.churn), perSecond: Number(values['churn-rate']) } }
        : {}),
      ...(values['no-reflector'] ? {} : { reflector: { prefix: values.prefix as string } }),
      settleMs: 120_000,
      log: (l) => console.log(`  ${l}`),
    });
    const r = result.ports;
    const n = label(ports);
    console.log(
      `  SCALE-1 ${r.ready}/${r.count} ready; p50 ${r.p50.toFixed(0)} ms, p95 ${r.p95.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, max ${r.max.toFixed(0)} ms; wall ${(result.wallMs / 1000).toFixed(1)} s`,
    );
    console.log(
      `  sessions lost by the simulated hypervisors: ${result.sessionLosses.heartbeat} without heartbeat for 3 s, ${result.sessionLosses.closed} closed (each one is a full resync)`,
    );
    for (const g of result.growth)
      console.log(
        `  growth ${g.ports} ports: controller ${g.controllerRssMb.toFixed(0)} MiB, ${g.controllerCpuS.toFixed(1)} s CPU; directory ${g.directoryCpuS.toFixed(1)} s CPU; simulated hypervisors ${g.simulatorCpuS.toFixed(1)} s CPU; ${g.elements} set elements, ${g.rules} rules; ${g.resyncs} resyncs`,
      );
    console.log(`BENCH scale_ports_${n}_p50_ms ${r.p50.toFixed(0)} ms`);
    console.log(`BENCH scale_ports_${n}_p95_ms ${r.p95.toFixed(0)} ms`);
    console.log(`BENCH scale_ports_${n}_p99_ms ${r.p99.toFixed(0)} ms`);
    console.log(`BENCH scale_ports_${n}_wall_s ${(result.wallMs / 1000).toFixed(1)} s`);
    console.log(`BENCH scale_ports_${n}_ready ${r.ready} ports`);
    if (i === 0) {
      console.log(
        `BENCH scale_controller_rss_mb_per_1k_ports ${result.controllerRssMbPer1kPorts.toFixed(2)} MiB`,
      );
      const xs = result.growth.map((g) => g.ports);
      const rss = linearFit(
        xs,
        result.growth.map((g) => g.controllerRssMb),
      );
      const cpu = linearFit(
        xs,
        result.growth.map((g) => g.controllerCpuS),
      );
      const elements = linearFit(
        xs,
        result.growth.map((g) => g.elements),
      );
      console.log(
        `  SCALE-3 linear fits over the ramp: RSS r² ${rss.r2.toFixed(3)}, CPU r² ${cpu.r2.toFixed(3)}, elements r² ${elements.r2.toFixed(3)}`,
      );
      const growth = scale3Verdict(result);
      console.log(`  SCALE-3 ${growth.ok ? 'linear' : 'NOT linear'}: ${growth.message}`);
      console.log(`BENCH scale_growth_r2_rss ${rss.r2.toFixed(3)} r2`);
      console.log(`BENCH scale_growth_r2_cpu ${cpu.r2.toFixed(3)} r2`);
      console.log(`BENCH scale_growth_r2_elements ${elements.r2.toFixed(3)} r2`);
    }
    if (result.churn) {
      const c = result.churn;
      console.log(
        `  SCALE-2 ${c.ready}/${c.count} membership changes at ${c.perSecond}/s propagated; p50 ${c.p50.toFixed(0)} ms, p95 ${c.p95.toFixed(0)} ms, p99 ${c.p99.toFixed(0)} ms`,
      );
      const verdict = scale2Verdict(result);
      console.log(`  SCALE-2 ${verdict.ok ? 'passes' : 'FAILS'}: ${verdict.message}`);
      if (!verdict.ok) failures.push(`SCALE-2 at ${r.count} ports: ${verdict.message}`);
      console.log(`BENCH scale_churn_rate ${c.perSecond} changes/s`);
      console.log(`BENCH scale_churn_p50_ms ${c.p50.toFixed(0)} ms`);
      console.log(`BENCH scale_churn_p95_ms ${c.p95.toFixed(0)} ms`);
      console.log(`BENCH scale_churn_p99_ms ${c.p99.toFixed(0)} ms`);
    }
    if (result.reflector) {
      const rr = result.reflector;
      const name = i === 0 ? 'scale_rr' : `scale_rr_${n}`;
      console.log(`  reflector ${rr.verdict.ok ? 'holds every route' : 'DIFFERS'}: ${rr.verdict.message}`);
      console.log(
        `  from the last API call: every route at the reflector after ${rr.readyMs === undefined ? 'never' : `${(rr.readyMs / 1000).toFixed(2)} s`}, every port acknowledged by its agents after ${(rr.agentsReadyMs / 1000).toFixed(2)} s`,
      );
      console.log(`  the controller's BGP session went down ${rr.sessionDrops} times during the run`);
      console.log(`BENCH ${name}_routes ${rr.received} routes`);
      if (rr.readyMs === undefined) console.log('  reflector never held every route within the settle time');
      else console.log(`BENCH ${name}_routes_ready_s ${(rr.readyMs / 1000).toFixed(2)} s`);
      if (!rr.verdict.ok) failures.push(`reflector at ${r.count} ports: ${rr.verdict.message}`);
    }
    if (r.ready !== r.count) failures.push(`SCALE-1 at ${r.count} ports: ${r.ready}/${r.count} ready`);
  }
  if (!counts.includes(50_000))
    console.log(
      'scale: 50k ports not run (pass --ports 10000,50000: about 5 min more on a quiet machine, see docs/scale.md)',
    );
  if (failures.length) throw new Error(failures.join('; '));
}
