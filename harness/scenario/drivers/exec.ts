/** Running a driver's command in a lab node, where a failure is the lab's, not the scenario's. */
import type { LabNode } from '../../runtime/runtime.ts';
import { HarnessError } from '../../util/errors.ts';

/** Runs argv in the node; its stdout, or a HarnessError naming the node, the step and the output. */
export async function mustExec(
  node: LabNode,
  argv: string[],
  what: string,
  timeoutMs = 20_000,
): Promise<string> {
  const r = await node.exec(argv, { timeoutMs });
  if (r.exitCode !== 0) {
    throw new HarnessError(
      `${node.name}: ${what} failed (${argv.join(' ')}, exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
    );
  }
  return r.stdout;
}
