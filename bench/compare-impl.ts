/**
 * `npm run bench -- compare-impl [--count 30] [--changes 40] [--prefix otb]`: the reference and OVN
 * measured in one run on this machine, one after the other, with the same number of ports and
 * membership changes, each on its own private lab (names `<prefix>-…`, destroyed afterwards):
 * - attach → reachable from every hypervisor: bench/attach.ts (reference, four hypervisors) and
 *   bench/ovn-attach.ts (OVN, four chassis), `count` attaches each, both with routed probes (their
 *   default: the probe VMs in a subnet of their own, each echo crossing its hypervisor's router);
 * - security-group membership change → enforced: bench/sg.ts on a copy of labs/default.clab.yml
 *   (reference) and of labs/ovn.clab.yml (OVN), `changes` joins and leaves each.
 *
 * BENCH lines (from the benchmarks it runs): attach_reachable_p95_ms beside ovn_attach_reachable_p95_ms,
 * sg_propagation_p95_ms beside ovn_sg_propagation_p95_ms (and their p50/p99); each attach bench also
 * prints its stage table, OVN's with ovn_attach_stage_<stage>_p50_ms|p95 lines (docs/ovn.md).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../harness/scenario/suite/launch.ts';

type BenchMain = (argv: string[]) => Promise<void>;

const bench = async (name: string): Promise<BenchMain> =>
  ((await import(join(import.meta.dirname, `${name}.ts`))) as { main: BenchMain }).main;

/**
 * A copy of a lab file beside the original (its relative binds stay valid) under another name; the
 * name replaces the lab's own everywhere it is used (runtime folders, the directory's socket path).
 */
function labCopy(file: string, name: string): { file: string; remove(): void } {
  const text = readFileSync(file, 'utf8');
  const own = /^name: (.*)$/m.exec(text)?.[1]?.trim();
  if (!own) throw new Error(`${file}: no name:`);
  const copy = join(REPO_ROOT, 'labs', `${name}.clab.yml`);
  writeFileSync(copy, text.replaceAll(own, name));
  return {
    file: copy,
    remove: () => {
      rmSync(copy, { force: true });
      rmSync(join(REPO_ROOT, 'labs', `clab-${name}`), { recursive: true, force: true });
    },
  };
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string', default: '30' },
      changes: { type: 'string', default: '40' },
      prefix: { type: 'string', default: 'otb' },
    },
  });
  const count = values.count as string;
  const changes = values.changes as string;
  const prefix = values.prefix as string;
  console.log(`== attach: reference (${count} ports)`);
  await (await bench('attach'))([
    '--count',
    count,
    '--lab-name',
    `${prefix}-2az`,
    '--idle-seconds',
    '1',
    '--seconds',
    '1',
  ]);
  console.log(`== attach: OVN (${count} ports)`);
  await (await bench('ovn-attach'))(['--count', count, '--lab-name', `${prefix}-ovn`]);
  const sg = await bench('sg');
  const ref = labCopy(join(REPO_ROOT, 'labs', 'default.clab.yml'), `${prefix}-sgref`);
  try {
    console.log(`== security-group propagation: reference (${changes} changes)`);
    await sg(['--lab', ref.file, '--changes', changes, '--members', '0']);
  } finally {
    ref.remove();
  }
  const ovn = labCopy(join(REPO_ROOT, 'labs', 'ovn.clab.yml'), `${prefix}-sgovn`);
  try {
    console.log(`== security-group propagation: OVN (${changes} changes)`);
    await sg([
      '--lab',
      ovn.file,
      '--implementation',
      'ovn',
      '--intent',
      join(REPO_ROOT, 'bench', '_sg-intent-nozones.yml'),
      '--changes',
      changes,
      '--members',
      '0',
    ]);
  } finally {
    ovn.remove();
  }
}
