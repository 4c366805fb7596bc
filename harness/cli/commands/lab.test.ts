/**
 * `otwin lab` on bad input: each bad topology gives exit code 2, one paragraph naming
 * file:line:col with a hint, no stack trace, and nothing deployed (no namespace of the lab).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { netnsList } from '../../kernel/netns.ts';
import { removeDir, uniqueLabName, writeLab } from '../../runtime/netns/fixtures/labs.ts';
import { clabSchemaAvailable } from '../../topology/schema.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const otwin = join(repo, 'bin', 'otwin.js');
const bad = (name: string) =>
  relative(repo, join(repo, 'harness', 'topology', 'fixtures', 'bad', `${name}.clab.yml`));
const netnsRuntimePresent = existsSync(join(repo, 'harness', 'runtime', 'netns', 'index.ts'));

function otwinLab(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, [otwin, 'lab', ...args], {
    cwd: repo,
    reject: false,
    env: { OTWIN_RUNTIME: '', ...env },
  });
}

const cases: Array<{
  name: string;
  lab: string;
  lineCol: string;
  message: RegExp;
  needs?: 'schema' | 'netns';
}> = [
  { name: 'yaml-syntax', lab: 'ota-bad-yaml', lineCol: '6:1', message: /YAML syntax error/ },
  {
    name: 'schema-violation',
    lab: 'ota-bad-schema',
    lineCol: '6:7',
    message: /unknown field 'imagee'/,
    needs: 'schema',
  },
  { name: 'unknown-node', lab: 'ota-bad-node', lineCol: '9:30', message: /unknown node 'h3'/ },
  { name: 'duplicate-endpoint', lab: 'ota-bad-dup', lineCol: '12:19', message: /used twice/ },
  {
    name: 'missing-bind',
    lab: 'ota-bad-bind',
    lineCol: '8:11',
    message: /bind source 'r1\/frr.conf' does not exist/,
  },
  {
    name: 'unsupported-field',
    lab: 'ota-bad-unsupported',
    lineCol: '7:7',
    message: /'entrypoint'.*not supported/,
    needs: 'netns',
  },
];

describe('otwin lab deploy with bad input', () => {
  for (const c of cases) {
    const skip =
      c.needs === 'schema' && !clabSchemaAvailable()
        ? ' (skipped: containerlab schema absent)'
        : c.needs === 'netns' && !netnsRuntimePresent
          ? ' (skipped: netns runtime not present)'
          : '';
    it.skipIf(skip !== '')(
      `${c.name}: exit 2, one paragraph with file:line:col, nothing deployed${skip}`,
      async () => {
        const result = await otwinLab(['deploy', '-t', bad(c.name)]);
        expect(result.exitCode).toBe(2);
        expect(result.stdout).toBe('');
        const lines = result.stderr.trim().split('\n');
        expect(lines[0]).toContain(`otwin: ${bad(c.name)}:${c.lineCol}: `);
        expect(lines[0]).toMatch(c.message);
        expect(lines.slice(1).every((l) => /^\s+hint: /.test(l))).toBe(true);
        expect(result.stderr).not.toMatch(/^\s+at /m);
        expect((await netnsList()).filter((ns) => ns.includes(c.lab))).toEqual([]);
      },
    );
  }

  it('unknown runtime and bad flags are user errors too', async () => {
    const runtime = await otwinLab(['deploy', '-t', bad('unknown-node'), '--runtime', 'vmware']);
    // The topology is checked first; a valid file reaches the runtime check.
    expect(runtime.exitCode).toBe(2);
    const flag = await otwinLab(['deploy', '--bogus']);
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr).toMatch(/Unknown option '--bogus'/);
    const missing = await otwinLab(['exec', '-t', bad('unknown-node'), '--node', 'h1']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/missing the command/);
    const env = await otwinLab(['inspect', '--all'], { OTWIN_RUNTIME: 'nope' });
    expect(env.exitCode).toBe(2);
    expect(env.stderr).toMatch(/unknown runtime 'nope' \(from OTWIN_RUNTIME\)/);
  });
});

// A copy under a name of this process: namespaces are host-wide, and another checkout (or another test
// file) deploying the fixture under its own name must not meet this one.
const E2E = uniqueLabName('e2e');
const e2eCopy = writeLab(
  readFileSync(join(repo, 'harness', 'topology', 'fixtures', 'e2e', 'ota-e2e.clab.yml'), 'utf8').replace(
    /^name: .*$/m,
    `name: ${E2E}`,
  ),
);
const e2eFile = e2eCopy.file;
const e2eSkip = netnsRuntimePresent ? '' : ' (skipped: netns runtime not present)';

describe.skipIf(e2eSkip !== '')(
  `otwin lab deploy/inspect/exec/destroy on the netns runtime${e2eSkip}`,
  () => {
    afterAll(() => removeDir(e2eCopy.dir));
    it('deploys two hosts, shows them, pings across the link, runs commands, destroys everything', async () => {
      try {
        const deploy = await otwinLab(['deploy', '-t', e2eFile]);
        expect(deploy.exitCode, deploy.stderr).toBe(0);
        expect(deploy.stderr).toMatch(/starting node h1/);
        expect(deploy.stdout).toMatch(/\| # \| Name +\| Kind\/Image +\| State +\| IPv4 Address +\|/);
        expect(deploy.stdout).toMatch(new RegExp(`clab-${E2E}-h1 +\\| linux +\\| running`));

        const inspect = await otwinLab(['inspect', '-t', e2eFile, '--format', 'json']);
        expect(inspect.exitCode).toBe(0);
        const byLab = JSON.parse(inspect.stdout) as Record<string, Array<Record<string, string>>>;
        expect(Object.keys(byLab)).toEqual([E2E]);
        expect(byLab[E2E]!.map((e) => [e.name, e.kind, e.state])).toEqual([
          [`clab-${E2E}-h1`, 'linux', 'running'],
          [`clab-${E2E}-h2`, 'linux', 'running'],
        ]);
        expect(Object.keys(byLab[E2E]![0]!)).toEqual([
          'lab_name',
          'labPath',
          'absLabPath',
          'name',
          'container_id',
          'image',
          'kind',
          'state',
          'status',
          'ipv4_address',
          'ipv6_address',
          'owner',
        ]);

        const ping = await otwinLab([
          'exec',
          '-t',
          e2eFile,
          '--node',
          'h1',
          '--',
          'ping',
          '-c1',
          '-W2',
          '192.0.2.2',
        ]);
        expect(ping.exitCode, ping.stderr).toBe(0);
        expect(ping.stdout).toMatch(/1 received/);
        const failing = await otwinLab([
          'exec',
          '-t',
          e2eFile,
          '--node',
          'h2',
          '--',
          'sh',
          '-c',
          'echo out; echo err >&2; exit 7',
        ]);
        expect([failing.exitCode, failing.stdout, failing.stderr.trim()]).toEqual([7, 'out', 'err']);
      } finally {
        const destroy = await otwinLab(['destroy', '-t', e2eFile, '--cleanup']);
        expect(destroy.exitCode, destroy.stderr).toBe(0);
      }
      expect((await netnsList()).filter((ns) => ns.includes(E2E))).toEqual([]);
      const after = await otwinLab(['inspect', '-t', e2eFile, '--format', 'json']);
      expect(after.stdout.trim()).toBe('{}');
      const exec = await otwinLab(['exec', '-t', e2eFile, '--node', 'h1', '--', 'true']);
      expect(exec.exitCode).toBe(2);
      expect(exec.stderr).toMatch(/is not deployed/);
    });
  },
);
