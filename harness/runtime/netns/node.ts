/**
 * A running node: a named network namespace plus an init process that owns the node's private
 * mount, UTS, IPC and PID namespaces (the pieces a container has). The init is a tiny Perl reaper
 * (PID 1 of the node's PID namespace, argv[0] = the node marker): daemons that double-fork (FRR's
 * watchfrr) are reparented to it and reaped, and SIGKILL to it ends every process of the node at
 * once — the kernel tears a PID namespace down with its init. `exec` = nsenter into all of them, the
 * `docker exec` analogue.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { isAlive, pidNamespaceOf, procStartTime } from '../../kernel/procs.ts';
import { HarnessError } from '../../util/errors.ts';
import { type ExecResult, run } from '../../util/exec.ts';
import { shq } from '../../util/shell.ts';
import type { ExecOptions, InteractiveCommand, LabNode } from '../runtime.ts';
import type { NodeState } from './state.ts';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface InitSpec {
  netns: string;
  marker: string;
  hostname: string;
  /** sysctl key → value, written inside the node (net.* apply to the node's network namespace). */
  sysctls: Record<string, string>;
  /** `ip -batch` lines run inside the node (interfaces up, addresses, routes, bridges). */
  ipLines: string[];
  /** Bind mounts in order (profile mounts first, then the node's binds, parents before children). */
  mounts: Array<{ source: string; target: string; readOnly: boolean }>;
  timeoutMs?: number;
}

// PID 1 of the node: reaps every orphan, exits on SIGTERM, otherwise sleeps. WNOHANG is 1 on Linux.
const REAPER =
  '$0 = shift; $SIG{CHLD} = sub { 1 while waitpid(-1, 1) > 0 }; $SIG{TERM} = sub { exit 0 }; sleep while 1;';

export function initScript(spec: InitSpec): string {
  const lines = [
    'set -e',
    // /proc is still the host's here: its NSpid line gives the host PID, which nsenter -t needs.
    'while read -r key value rest; do if [ "$key" = NSpid: ]; then echo "pid $value"; break; fi; done < /proc/self/status',
    'mount -t proc -o nosuid,nodev,noexec proc /proc',
    // The node's own /run/netns, as a container has: namespaces created inside the node (a hypervisor
    // agent's router and VM namespaces, zebra's netns VRFs) stay inside it and vanish with it, instead
    // of leaving entries in the host's /run/netns after a destroy.
    'mkdir -p /run/netns',
    'mount -t tmpfs -o mode=0755,size=1m otwin-netns /run/netns',
    `printf '%s' ${shq(spec.hostname)} > /proc/sys/kernel/hostname`,
  ];
  for (const [key, value] of Object.entries(spec.sysctls)) {
    lines.push(`printf '%s' ${shq(value)} > ${shq(`/proc/sys/${key.replace(/\./g, '/')}`)}`);
  }
  if (spec.ipLines.length > 0)
    lines.push(`ip -batch - <<'OTWIN_IP_EOF'\n${spec.ipLines.join('\n')}\nOTWIN_IP_EOF`);
  for (const mount of spec.mounts) {
    lines.push(`mount --bind ${mount.readOnly ? '-o ro ' : ''}${shq(mount.source)} ${shq(mount.target)}`);
  }
  lines.push('echo ready');
  lines.push(`exec perl -e ${shq(REAPER)} ${shq(spec.marker)} </dev/null >/dev/null 2>&1`);
  return lines.join('\n');
}

/**
 * Starts a node's init inside its network namespace. `--propagation slave` (not private): unmounts
 * on the host — another lab deleting its /run/netns entries — still reach the node, so a node never
 * pins another lab's namespaces; the node's own mounts never leak out.
 */
export function startInit(spec: InitSpec): Promise<{ pid: number; startTime: number }> {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      spec.netns,
      'unshare',
      '--mount',
      '--uts',
      '--ipc',
      '--pid',
      '--fork',
      '--propagation',
      'slave',
      '--',
      '/bin/bash',
      '-c',
      initScript(spec),
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let pid: number | undefined;
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      if (error) {
        if (pid !== undefined) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
        reject(error);
        return;
      }
      const startTime = pid === undefined ? undefined : procStartTime(pid);
      if (pid === undefined || startTime === undefined)
        reject(new HarnessError(`node init in ${spec.netns} exited at start`));
      else resolve({ pid, startTime });
    };
    const timer = setTimeout(
      () =>
        finish(
          new HarnessError(
            `node init in ${spec.netns} did not start within ${spec.timeoutMs ?? 15_000} ms: ${err.trim()}`,
          ),
        ),
      spec.timeoutMs ?? 15_000,
    );
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const m = /^pid (\d+)$/m.exec(out);
      if (m) pid = Number(m[1]);
      if (/^ready$/m.test(out)) finish(undefined);
    });
    child.stderr.on('data', (chunk: string) => {
      err += chunk;
    });
    child.on('error', (e) =>
      finish(new HarnessError(`cannot start node init in ${spec.netns}: ${e.message}`)),
    );
    child.on('exit', (code) => {
      // Give buffered stdout a chance to deliver "ready" first.
      setImmediate(() =>
        finish(
          new HarnessError(`node init in ${spec.netns} failed (exit ${code}): ${err.trim() || out.trim()}`),
        ),
      );
    });
  });
}

/** The host PID of the process that is `nsPid` inside the PID namespace of `initPid`. */
export function hostPidOf(initPid: number, nsPid: number): number | undefined {
  const pidNs = pidNamespaceOf(initPid);
  if (!pidNs) return undefined;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const ids = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
      if (ids && Number(ids[ids.length - 1]) === nsPid && ids.length > 1 && pidNamespaceOf(pid) === pidNs)
        return pid;
    } catch {
      // gone
    }
  }
  return undefined;
}

export class NetnsNode implements LabNode {
  readonly name: string;
  readonly kind: string;
  readonly image: string;
  readonly netnsName: string;
  readonly netnsPath: string;
  readonly pid: number;
  readonly mgmtIPv4: string | undefined;
  readonly mgmtIPv6: string | undefined;
  readonly state: NodeState;

  constructor(state: NodeState) {
    if (state.pid === undefined) throw new HarnessError(`node '${state.name}' has no running init`);
    this.state = state;
    this.name = state.name;
    this.kind = state.kind;
    this.image = state.image;
    this.netnsName = state.netns;
    this.netnsPath = `/run/netns/${state.netns}`;
    this.pid = state.pid;
    this.mgmtIPv4 = state.mgmtIPv4?.split('/')[0];
    this.mgmtIPv6 = state.mgmtIPv6?.split('/')[0];
  }

  /** True while the node's init runs (same PID and start time as recorded). */
  get running(): boolean {
    return isAlive(this.pid, this.state.pidStartTime);
  }

  /** The nsenter argv prefix that enters the node (network, mount, UTS, IPC, PID) with its environment. */
  enterArgv(env: Record<string, string> = {}): string[] {
    const environment = {
      PATH: DEFAULT_PATH,
      HOME: '/root',
      HOSTNAME: this.name,
      ...this.state.env,
      ...env,
    };
    return [
      'nsenter',
      '-t',
      String(this.pid),
      '-n',
      '-m',
      '-u',
      '-i',
      '-p',
      '--',
      'env',
      '-i',
      ...Object.entries(environment).map(([k, v]) => `${k}=${v}`),
    ];
  }

  interactive(argv: readonly string[]): InteractiveCommand {
    return { argv: [...this.enterArgv(), ...argv] };
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (!this.running)
      throw new HarnessError(`node '${this.name}' is not running (init PID ${this.pid} is gone)`);
    const [file, ...args] = [...this.enterArgv(options.env), ...argv];
    return run(file!, args, {
      ...(options.input !== undefined ? { input: options.input } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
  }
}

// Runs each exec line with `sh -c`, in order, stopping at the first failure; markers delimit the output.
const EXEC_DRIVER = `n=0
for line in "$@"; do
  n=$((n+1))
  printf '### exec %d: %s\\n' "$n" "$line"
  if sh -c "$line" 2>&1; then rc=0; else rc=$?; fi
  printf '### exit %d\\n' "$rc"
  [ "$rc" -eq 0 ] || exit 97
done`;

export interface ExecLinesResult {
  ok: boolean;
  output: string;
  failedLine?: { index: number; line: string; exitCode: number; output: string };
}

/** containerlab `exec:` lines in one nsenter (one process start per node, not per line). */
export async function runExecLines(node: NetnsNode, lines: readonly string[]): Promise<ExecLinesResult> {
  if (lines.length === 0) return { ok: true, output: '' };
  const result = await node.exec(['sh', '-c', EXEC_DRIVER, 'sh', ...lines], { timeoutMs: 120_000 });
  const output = `${result.stdout}${result.stderr ? `\n${result.stderr}` : ''}`;
  if (result.exitCode === 0) return { ok: true, output };
  const blocks = result.stdout.split(/^### exec /m);
  const last = blocks[blocks.length - 1] ?? '';
  const index = Number.parseInt(last, 10);
  const exitCode = Number(/^### exit (\d+)$/m.exec(last)?.[1] ?? result.exitCode);
  const body = last
    .split('\n')
    .slice(1)
    .filter((l) => !l.startsWith('### exit'))
    .join('\n')
    .trim();
  const lineNo = Number.isInteger(index) ? index : lines.length;
  return {
    ok: false,
    output,
    failedLine: {
      index: lineNo,
      line: lines[lineNo - 1] ?? '',
      exitCode,
      output: body || result.stderr.trim(),
    },
  };
}

/**
 * Starts a node's `cmd:` as a detached process inside the node (its init adopts it), output to
 * `logFile`; returns its host PID.
 */
export async function startCmd(node: NetnsNode, cmd: string, logFile: string): Promise<number | undefined> {
  const script = `setsid sh -c "$1" </dev/null >>"$2" 2>&1 & echo $!`;
  const result = await node.exec(['sh', '-c', script, 'sh', cmd, logFile]);
  if (result.exitCode !== 0)
    throw new HarnessError(`node '${node.name}': cannot start cmd: ${result.stderr.trim()}`);
  const nsPid = Number(result.stdout.trim());
  return Number.isInteger(nsPid) ? hostPidOf(node.pid, nsPid) : undefined;
}
