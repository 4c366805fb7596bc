/**
 * `npm run bench -- traffic`: all-pairs reachability matrix over 30 hosts on one bridge × TCP 80 and
 * 443 (1,740 cells), half of them blocked by nftables drops in the destination, negative cells held
 * 200 ms each; listeners opened by the engine. Run 3 times; prints min/median/max verdicts per second.
 */
import {
  createBridgedHosts,
  type Fixture,
  fixturePrefix,
  nftDropInbound,
} from '../harness/traffic/fixtures/namespaces.ts';
import {
  allPairs,
  type Expectation,
  ProbeServer,
  renderMatrix,
  runMatrix,
} from '../harness/traffic/index.ts';

const HOSTS = 30;
const RUNS = 3;

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function main(argv: string[]): Promise<void> {
  const hostCount = Number(argv[0] ?? HOSTS);
  const prefix = fixturePrefix('otcb');
  let fixture: Fixture | undefined;
  let server: ProbeServer | undefined;
  try {
    const setupStart = performance.now();
    fixture = await createBridgedHosts(prefix, hostCount);
    const hosts = fixture.hosts;
    // Exactly half the cells blocked: even-numbered destinations drop port 443 from every source;
    // odd-numbered destinations drop port 80, listed per source address (a set, as a security group would).
    const blocked = (_fromIndex: number, toIndex: number, port: number): boolean =>
      port === 443 ? toIndex % 2 === 0 : toIndex % 2 === 1;
    await Promise.all(
      hosts.map((host, toIndex) => {
        const rules: string[] = [];
        if (toIndex % 2 === 0) rules.push('tcp dport 443 drop');
        const sources = hosts
          .filter((_, fromIndex) => fromIndex !== toIndex && blocked(fromIndex, toIndex, 80))
          .map((h) => h.address);
        if (sources.length > 0) rules.push(`ip saddr { ${sources.join(', ')} } tcp dport 80 drop`);
        return nftDropInbound(host.ns, rules);
      }),
    );
    console.log(
      `setup: ${hostCount} hosts on one bridge in ${Math.round(performance.now() - setupStart)} ms`,
    );

    const startedAt = performance.now();
    server = await ProbeServer.start();
    const startSeconds = (performance.now() - startedAt) / 1000;

    const index = new Map(hosts.map((h, i) => [h.name, i]));
    const cells = allPairs(
      hosts,
      hosts,
      [
        { proto: 'tcp', port: 80 },
        { proto: 'tcp', port: 443 },
      ],
      (from, to, service): Expectation =>
        blocked(index.get(from.name)!, index.get(to.name)!, service.port!) ? 'dropped' : 'allowed',
    );
    const negatives = cells.filter((c) => c.expected !== 'allowed').length;
    console.log(`cells: ${cells.length} (${negatives} expected dropped, held 200 ms each)`);

    const rates: number[] = [];
    for (let run = 1; run <= RUNS; run += 1) {
      const result = await runMatrix(server, cells, { holdMs: 200 });
      rates.push(result.probesPerSecond);
      console.log(
        `run ${run}: ${result.cells.length} verdicts in ${Math.round(result.elapsedMs)} ms = ${Math.round(result.probesPerSecond)} probes/s, ${result.mismatches.length} mismatches`,
      );
      if (!result.ok) {
        console.log(renderMatrix(result, 'text', ['mismatch']).split('\n').slice(-20).join('\n'));
        throw new Error(`benchmark matrix had ${result.mismatches.length} mismatches`);
      }
    }
    const med = median(rates);
    console.log(
      `probes/s: min ${Math.round(Math.min(...rates))} / median ${Math.round(med)} / max ${Math.round(Math.max(...rates))}`,
    );
    console.log(`BENCH matrix_probes_per_s ${Math.round(med)} probes/s`);
    console.log(`BENCH probe_server_start_s ${startSeconds.toFixed(3)} s`);
  } finally {
    await server?.stop();
    await fixture?.destroy();
  }
}
