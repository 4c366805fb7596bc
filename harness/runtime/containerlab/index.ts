/**
 * The containerlab runtime: the same topology file deployed by `containerlab` (Docker). Every
 * operation is one containerlab command through execa; node processes are reached through
 * `/proc/<pid>/ns/net` of the container (pid from `docker inspect`) and `docker exec`, so the
 * traffic engine and scenarios work as on the netns runtime.
 *
 * Commands sent (containerlab's documented flags, https://containerlab.dev/cmd/):
 *   containerlab deploy -t <file> [--reconfigure] [--max-workers N] [--node-filter a,b]
 *   containerlab destroy -t <file> [--cleanup]          containerlab destroy --all --yes [--cleanup]
 *   containerlab inspect -t <file> --format json        containerlab inspect --all --format json
 *   containerlab exec -t <file> --label clab-node-name=<node> --cmd <command> --format json
 *   docker inspect -f '{{.Name}} {{.State.Pid}}' <container>...      docker exec [-i] <container> argv...
 */
import { execa } from 'execa';
import type { Topology } from '../../topology/types.ts';
import { HarnessError } from '../../util/errors.ts';
import { type ExecResult, run } from '../../util/exec.ts';
import type {
  DeployedLab,
  DeployOptions,
  DestroyOptions,
  ExecOptions,
  InspectEntry,
  InteractiveCommand,
  LabNode,
  Runtime,
} from '../runtime.ts';
import { parseInspectJson } from './inspect.ts';

export { parseInspectJson } from './inspect.ts';

export interface ContainerlabOptions {
  /** containerlab binary (default `containerlab` from PATH). */
  containerlab?: string;
  /** docker binary (default `docker` from PATH). */
  docker?: string;
  /** Extra environment for both (merged over process.env); tests put a fake binary first on PATH. */
  env?: Record<string, string>;
  /** Default for DestroyOptions.cleanup: `--cleanup` also removes the lab directory (containerlab keeps it). */
  cleanup?: boolean;
  /**
   * Pass `--yes` to `destroy --all` (containerlab ≥ 0.62 asks for confirmation without it). Set false
   * for older containerlab versions, which do not know the flag.
   */
  autoApprove?: boolean;
}

export class ContainerlabRuntime implements Runtime {
  readonly name = 'containerlab' as const;
  private readonly clabBin: string;
  private readonly dockerBin: string;
  private readonly env: Record<string, string> | undefined;
  private readonly cleanup: boolean;
  private readonly autoApprove: boolean;

  constructor(options: ContainerlabOptions = {}) {
    this.clabBin = options.containerlab ?? 'containerlab';
    this.dockerBin = options.docker ?? 'docker';
    this.env = options.env;
    this.cleanup = options.cleanup ?? false;
    this.autoApprove = options.autoApprove ?? true;
  }

  async deploy(topology: Topology, options: DeployOptions = {}): Promise<DeployedLab> {
    const args = ['deploy', '-t', topology.file];
    if (options.reconfigure) args.push('--reconfigure');
    if (options.maxWorkers !== undefined) args.push('--max-workers', String(options.maxWorkers));
    if (options.nodeFilter && options.nodeFilter.length > 0)
      args.push('--node-filter', options.nodeFilter.join(','));
    await this.clabOk(args, options.onProgress);
    const lab = await this.attach(topology);
    if (!lab)
      throw new HarnessError(`containerlab deployed ${topology.name} but inspect lists no node of it`);
    return lab;
  }

  async attach(topology: Topology): Promise<DeployedLab | undefined> {
    const entries = await this.inspect(topology);
    if (entries.length === 0) return undefined;
    const pids = await this.containerPids(entries.map((e) => e.name));
    const nodes = new Map<string, LabNode>();
    for (const node of topology.nodes) {
      const entry =
        entries.find((e) => e.name === node.longName) ??
        entries.find((e) => e.name.endsWith(`-${node.name}`));
      if (!entry) continue;
      const pid = pids.get(entry.name) ?? 0;
      nodes.set(node.name, this.labNode(node.name, entry, pid));
    }
    return {
      topology,
      runtime: this.name,
      nodes,
      node(name: string): LabNode {
        const found = nodes.get(name);
        if (!found) throw new HarnessError(`lab ${topology.name} has no running node '${name}'`);
        return found;
      },
    };
  }

  async destroy(topology: Topology, options: DestroyOptions = {}): Promise<void> {
    const args = ['destroy', '-t', topology.file];
    if (options.cleanup ?? this.cleanup) args.push('--cleanup');
    await this.clabOk(args);
  }

  async destroyAll(): Promise<string[]> {
    const labs = Object.keys(await this.inspectAll());
    if (labs.length === 0) return [];
    const args = ['destroy', '--all'];
    if (this.cleanup) args.push('--cleanup');
    if (this.autoApprove) args.push('--yes');
    await this.clabOk(args);
    return labs;
  }

  async inspect(topology: Topology): Promise<InspectEntry[]> {
    const byLab = await this.inspectJson(['inspect', '-t', topology.file, '--format', 'json']);
    if (byLab[topology.name]) return byLab[topology.name]!;
    // Versions that print a bare list may leave lab_name out; the file names one lab only.
    const labs = Object.values(byLab);
    return labs.length === 1 ? labs[0]! : [];
  }

  inspectAll(): Promise<Record<string, InspectEntry[]>> {
    return this.inspectJson(['inspect', '--all', '--format', 'json']);
  }

  /**
   * `containerlab exec` on one node: the command is one string run by containerlab (no shell), and
   * the result comes from its JSON output. LabNode.exec (docker exec) is the precise path; this one
   * is for parity with containerlab users' scripts.
   */
  async clabExec(topology: Topology, nodeName: string, command: string): Promise<ExecResult> {
    const args = [
      'exec',
      '-t',
      topology.file,
      '--label',
      `clab-node-name=${nodeName}`,
      '--cmd',
      command,
      '--format',
      'json',
    ];
    const result = await this.clab(args);
    if (result.exitCode !== 0) throw clabFailure(args, result);
    return parseExecJson(result.stdout);
  }

  private labNode(name: string, entry: InspectEntry, pid: number): LabNode {
    const container = entry.name;
    const docker = this.dockerBin;
    const env = this.env;
    return {
      name,
      kind: entry.kind,
      image: entry.image,
      netnsPath: `/proc/${pid}/ns/net`,
      // containerlab links each container's namespace to /run/netns/<container name>.
      netnsName: container,
      pid,
      mgmtIPv4: addressOnly(entry.ipv4_address),
      mgmtIPv6: addressOnly(entry.ipv6_address),
      interactive: (argv: readonly string[]): InteractiveCommand => ({
        argv: [docker, 'exec', '-i', container, ...argv],
        ...(env ? { env } : {}),
      }),
      exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
        const args = ['exec'];
        if (options.input !== undefined) args.push('-i');
        for (const [k, v] of Object.entries(options.env ?? {})) args.push('-e', `${k}=${v}`);
        args.push(container, ...argv);
        return run(docker, args, {
          ...(options.input !== undefined ? { input: options.input } : {}),
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...(env ? { env } : {}),
        });
      },
    };
  }

  /** Container name → PID of its init process, in one `docker inspect`. */
  private async containerPids(containers: readonly string[]): Promise<Map<string, number>> {
    const pids = new Map<string, number>();
    if (containers.length === 0) return pids;
    const result = await run(
      this.dockerBin,
      ['inspect', '-f', '{{.Name}} {{.State.Pid}}', ...containers],
      this.runOptions(),
    );
    if (result.exitCode !== 0) {
      throw new HarnessError(`docker inspect failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
    }
    for (const line of result.stdout.split('\n')) {
      const [rawName, rawPid] = line.trim().split(/\s+/);
      if (!rawName || !rawPid) continue;
      pids.set(rawName.replace(/^\//, ''), Number.parseInt(rawPid, 10));
    }
    return pids;
  }

  private async inspectJson(args: string[]): Promise<Record<string, InspectEntry[]>> {
    const result = await this.clab(args);
    if (result.exitCode !== 0) {
      // Older versions exit 1 with "no containers found" when nothing is deployed.
      if (/no containers found|no containerlab labs/i.test(`${result.stderr}\n${result.stdout}`)) return {};
      throw clabFailure(args, result);
    }
    try {
      return parseInspectJson(result.stdout);
    } catch (err) {
      throw new HarnessError(
        `containerlab ${args.join(' ')} did not print inspect JSON: ${result.stdout.slice(0, 200)}`,
        {
          cause: err,
        },
      );
    }
  }

  private runOptions(): { env?: Record<string, string> } {
    return this.env ? { env: this.env } : {};
  }

  private async clabOk(args: string[], onLine?: (line: string) => void): Promise<ExecResult> {
    const result = await this.clab(args, onLine);
    if (result.exitCode !== 0) throw clabFailure(args, result);
    return result;
  }

  /** Runs containerlab; its log (stderr) is passed line by line to onLine as it comes. */
  private async clab(args: string[], onLine?: (line: string) => void): Promise<ExecResult> {
    const subprocess = execa(this.clabBin, args, {
      reject: false,
      stdin: 'ignore',
      stripFinalNewline: true,
      ...(this.env ? { env: this.env } : {}),
    });
    if (onLine && subprocess.stderr) {
      let pending = '';
      subprocess.stderr.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') onLine(line.trimEnd());
      });
      subprocess.stderr.on('end', () => {
        if (pending.trim() !== '') onLine(pending.trimEnd());
      });
    }
    const result = await subprocess;
    if (result.exitCode === undefined) {
      const missing = (result as { code?: string }).code === 'ENOENT';
      throw new HarnessError(
        missing
          ? `${this.clabBin} is not installed (or not on PATH): the containerlab runtime needs containerlab and Docker; use --runtime netns`
          : `${this.clabBin} ${args.join(' ')} did not run: ${result.message}`,
      );
    }
    return {
      exitCode: result.exitCode,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
    };
  }
}

function clabFailure(args: readonly string[], result: ExecResult): HarnessError {
  const tail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join(' | ');
  return new HarnessError(`containerlab ${args.join(' ')} failed (exit ${result.exitCode}): ${tail}`);
}

function addressOnly(cidr: string): string | undefined {
  const address = cidr.split('/')[0]?.trim();
  return address && address !== 'N/A' ? address : undefined;
}

/**
 * `containerlab exec --format json`: `{ "<container>": [{cmd, return-code, stdout, stderr}] }` in
 * current versions, `{ "<container>": {stdout, stderr} }` (stdout possibly parsed JSON) in older ones.
 */
export function parseExecJson(text: string): ExecResult {
  const data = JSON.parse(text.trim() || '{}') as Record<string, unknown>;
  const first = Object.values(data)[0];
  const item = (Array.isArray(first) ? first[0] : first) as Record<string, unknown> | undefined;
  if (!item) return { exitCode: 1, stdout: '', stderr: 'containerlab exec matched no node' };
  const str = (v: unknown): string =>
    typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
  const code = item['return-code'];
  return {
    exitCode: typeof code === 'number' ? code : str(item.stderr) === '' ? 0 : 1,
    stdout: str(item.stdout),
    stderr: str(item.stderr),
  };
}
