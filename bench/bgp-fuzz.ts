/**
 * `npm run bench -- bgp-fuzz [cases] [seed]`: the UPDATE fuzzer of harness/bgp/codec/fuzz.ts at
 * 1,000,000 cases (the test runs 100,000). Exits non-zero on any finding.
 */
import { runFuzz } from '../harness/bgp/codec/fuzz.ts';

export async function main(argv: string[]): Promise<void> {
  const cases = Number(argv[0] ?? 1_000_000);
  const seed = Number(argv[1] ?? 0x0bd5eed);
  const report = runFuzz(cases, seed);
  console.log(`fuzzed ${cases} UPDATEs (seed ${seed}) in ${(report.elapsedMs / 1000).toFixed(1)} s`);
  for (const [k, v] of Object.entries(report.outcomes)) console.log(`  ${k.padEnd(18)} ${v}`);
  console.log(`  slowest case       ${report.slowestMs.toFixed(2)} ms`);
  for (const f of report.findings) console.log(`FINDING case ${f.case}: ${f.what}\n  ${f.hex}`);
  console.log(`BENCH bgp_fuzz_cases_per_s ${Math.round(cases / (report.elapsedMs / 1000))} cases/s`);
  console.log(`BENCH bgp_fuzz_findings ${report.findings.length} findings`);
  if (report.findings.length) process.exitCode = 1;
}
