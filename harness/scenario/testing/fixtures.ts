/** Test fixtures for scenario parsing, validation and the timeline. */
import type { DeployedLab, LabNode } from '../../runtime/runtime.ts';
import type { Topology } from '../../topology/types.ts';
import type { ExecResult } from '../../util/exec.ts';
import { parseScenarioText, ScenarioError } from '../parse.ts';

/**
 * A lab of the FRR EVPN lab's node names whose nodes record the commands they are asked to run and
 * answer them with `answer` (exit 0, no output by default).
 */
export function fakeLab(
  calls: string[],
  file: string,
  answer: (node: string, argv: readonly string[]) => Partial<ExecResult> = () => ({}),
): DeployedLab {
  const nodes = new Map<string, LabNode>();
  for (const name of ['rr', 'leaf1', 'leaf2', 'leaf3', 'h1', 'h2', 'h3']) {
    nodes.set(name, {
      name,
      kind: 'linux',
      image: '',
      netnsPath: `/nonexistent/${name}`,
      netnsName: undefined,
      pid: 0,
      mgmtIPv4: undefined,
      mgmtIPv6: undefined,
      async exec(argv) {
        calls.push(`${name}: ${argv.join(' ')}`);
        return { exitCode: 0, stdout: '', stderr: '', ...answer(name, argv) };
      },
    });
  }
  const topology = { name: 'fake', file, links: [], nodes: [] } as unknown as Topology;
  return { topology, runtime: 'netns', nodes, node: (n) => nodes.get(n)! };
}

/** The ScenarioError that parsing `text` as `file` throws; throws if it parses or fails otherwise. */
export function scenarioErrorOf(text: string, file: string): ScenarioError {
  try {
    parseScenarioText(text, file);
  } catch (err) {
    if (err instanceof ScenarioError) return err;
    throw err;
  }
  throw new Error('expected a ScenarioError');
}
