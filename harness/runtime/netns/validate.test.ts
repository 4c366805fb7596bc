/**
 * Every problem at once: a file with five things the netns runtime cannot honour gets all five in
 * one report (file:line:col and hint each; a field inherited from topology.defaults reported once,
 * where it is written, naming the nodes that inherit it), from `deploy` and from `otwin lab
 * validate` alike, with nothing deployed. Schema problems come back together too.
 */
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { netnsList } from '../../kernel/netns.ts';
import { loadTopology } from '../../topology/load.ts';
import { ProblemReport } from '../../topology/problems.ts';
import { clabSchemaAvailable } from '../../topology/schema.ts';
import { REPO, removeDir, writeLab } from './fixtures/labs.ts';
import { NetnsRuntime } from './index.ts';

const five = relative(REPO, join(REPO, 'harness/topology/fixtures/bad/five-unsupported.clab.yml'));
const otwin = (...args: string[]) =>
  execa(process.execPath, [join(REPO, 'bin/otwin.js'), 'lab', ...args], {
    cwd: REPO,
    reject: false,
    env: { OTWIN_RUNTIME: '' },
  });

const EXPECTED: Array<[string, RegExp]> = [
  ['6:5', /field 'runtime' set in topology\.defaults \(inherited by nodes 'h1', 'h3'\) is not supported/],
  ['11:7', /node 'h1': field 'entrypoint' is not supported/],
  ['12:5', /node 'h2' has kind 'arista_ceos'/],
  ['18:7', /node 'h3': field 'network-mode' is 'host', which the netns runtime refuses/],
  ['20:7', /link #1: link type 'dummy' is not supported/],
];

describe('every problem of a topology in one report', () => {
  it('deploy refuses a file with five unsupported items naming all five, and deploys nothing', async () => {
    const topology = await loadTopology(join(REPO, five));
    const error = await new NetnsRuntime().deploy(topology).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemReport);
    const problems = (error as ProblemReport).problems;
    expect(problems.map((p) => p.where)).toEqual(EXPECTED.map(([at]) => `${five}:${at}`));
    problems.forEach((p, i) => {
      expect(p.message).toMatch(EXPECTED[i]![1]);
      expect(p.hint).toBeTruthy();
    });
    expect((await netnsList()).filter((ns) => ns.includes('ota-bad-five'))).toEqual([]);
  });

  it('otwin lab validate prints the same five problems, one block each, exit 2, no stack trace', async () => {
    const result = await otwin('validate', '-t', five);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^otwin: 5 problems in /);
    for (const [at, message] of EXPECTED) {
      const line = result.stderr.split('\n').find((l) => l.includes(`${five}:${at}: `));
      expect(line, `${at} in:\n${result.stderr}`).toMatch(message);
    }
    expect(result.stderr.match(/^\s+hint: /gm)).toHaveLength(5);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('otwin lab validate accepts a good file without deploying it', async () => {
    const file = relative(REPO, join(REPO, 'labs/compat/services.clab.yml'));
    const result = await otwin('validate', '-t', file);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/lab compat-services \(4 nodes, 3 links\) is valid for the netns runtime/);
    expect((await netnsList()).filter((ns) => ns.includes('compat-services'))).toEqual([]);
  });

  it('destroy and inspect of a lab that was never deployed say so', async () => {
    const file = relative(REPO, join(REPO, 'labs/compat/frr-derived.clab.yml'));
    const destroy = await otwin('destroy', '-t', file);
    expect(destroy.exitCode, destroy.stderr).toBe(0);
    expect(destroy.stderr).toMatch(/lab compat-frr-derived was not deployed: nothing to destroy/);
    const inspect = await otwin('inspect', '-t', file);
    expect(inspect.stderr).toMatch(/lab compat-frr-derived: not deployed/);
  });

  it.skipIf(!clabSchemaAvailable())('reports every schema problem of a file at once', async () => {
    const lab = writeLab(`name: ota-schema-many
topology:
  nodes:
    a:
      kind: linux
      imagee: alpine
    b:
      kind: linux
      bindz: []
    c:
      kind: linux
      startup-delay: soon
`);
    try {
      const error = await loadTopology(lab.file).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProblemReport);
      const messages = (error as ProblemReport).problems.map(
        (p) => `${p.where?.split(':').slice(-2).join(':')} ${p.message}`,
      );
      expect(messages).toEqual([
        expect.stringMatching(/^6:7 unknown field 'imagee' in node 'a'/),
        expect.stringMatching(/^9:7 unknown field 'bindz' in node 'b'/),
        expect.stringMatching(/^12:22 'startup-delay' must be an integer in node 'c'/),
      ]);
    } finally {
      removeDir(lab.dir);
    }
  });

  it('a warning, not silence, for a node that looks like a router but gets no routing suite', async () => {
    const lab = writeLab(`name: ota-warn-router
topology:
  nodes:
    bird1:
      kind: linux
      image: ghcr.io/example/bird:2.14
    r1:
      kind: linux
      image: registry.example.com/netlab/frr-ssh:latest
`);
    try {
      const { warnings } = new NetnsRuntime().validate(await loadTopology(lab.file));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /node 'bird1' looks like a router \(its image 'ghcr\.io\/example\/bird:2\.14' suggests BIRD\)/,
      );
    } finally {
      removeDir(lab.dir);
    }
  });
});
