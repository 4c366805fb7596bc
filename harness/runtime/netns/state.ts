/**
 * Lab state of the netns runtime. Written before any resource is created (the whole plan: every
 * namespace, link and file the deploy will make) and updated as processes start, to two places:
 * `<labDir>/state.json` (containerlab's lab-directory convention) and the project-wide registry
 * `/run/overlay-twin/labs/<lab>-<hash>.json` (so `destroy --all` finds every lab, and destroy works
 * even when the lab directory was removed). Writes are atomic (temp file + rename) and synchronous,
 * so a SIGKILL at any point leaves a readable state that names everything that may exist.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REGISTRY_DIR } from './names.ts';

/** A registered node profile's name (kinds/index.ts), or `host` for the machine itself. */
export type ProfileName = string;

export interface NodeState {
  name: string;
  kind: string;
  image: string;
  profile: ProfileName;
  /** containerlab's container name (`clab-<lab>-<node>`), shown by inspect. */
  longName: string;
  netns: string;
  /** CIDR, e.g. `172.20.20.2/24`; undefined for nodes without a management interface (bridges). */
  mgmtIPv4: string | undefined;
  mgmtIPv6: string | undefined;
  /** Host PID of the node's init (PID 1 of its PID namespace); set once it runs. */
  pid?: number;
  /** Start time of that PID (field 22 of /proc/<pid>/stat): guards against PID reuse. */
  pidStartTime?: number;
  startedAt?: string;
  /** Host PID of the node's `cmd:` process, when it has one. */
  cmdPid?: number;
  env: Record<string, string>;
  /** The node whose network namespace this one shares (`network-mode: container:<node>`). */
  sharesNetnsOf?: string;
  /** What runs in place of the image, for inspect (e.g. `FRR 8.4.4 (this machine's)`). */
  runs?: string;
}

/** A published port's forwarder (ports.ts), identified by PID, start time and its argv[0] marker. */
export interface ForwarderState {
  node: string;
  spec: string;
  pid: number;
  startTime: number;
}

export interface LinkState {
  a: { node: string; iface: string };
  b: { node: string; iface: string };
}

export interface LabState {
  version: 1;
  runtime: 'netns';
  labName: string;
  topologyFile: string;
  labDir: string;
  key: string;
  nsPrefix: string;
  markerPrefix: string;
  status: 'deploying' | 'running' | 'destroying';
  owner: string;
  /** PID of the harness process that deployed the lab (informational). */
  deployedBy: number;
  createdAt: string;
  mgmt: {
    netns: string;
    bridge: string;
    ipv4Subnet: string;
    ipv4Gateway: string;
    ipv6Subnet: string | undefined;
    ipv6Gateway: string | undefined;
  };
  /** Every namespace the deploy creates (node namespaces and the management namespace). */
  namespaces: string[];
  nodes: Record<string, NodeState>;
  links: LinkState[];
  /** Paths created outside the lab directory (bind mount points), removed again by destroy. */
  files: string[];
  /** Host ends of `host` links (they vanish with the node namespaces). */
  hostInterfaces?: string[];
  /** Forwarders of published ports. */
  forwarders?: ForwarderState[];
  registryFile: string;
}

export function stateFile(labDir: string): string {
  return join(labDir, 'state.json');
}

function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export function writeState(state: LabState): void {
  const text = `${JSON.stringify(state, null, 2)}\n`;
  writeAtomic(state.registryFile, text);
  writeAtomic(stateFile(state.labDir), text);
}

/**
 * Claims the registry entry for a lab: fails (returns false) when another deployment of the same
 * lab already holds it. The claim is the atomic `wx` create of the registry file.
 */
export function claimRegistry(state: LabState): boolean {
  mkdirSync(dirname(state.registryFile), { recursive: true });
  try {
    writeFileSync(state.registryFile, `${JSON.stringify(state, null, 2)}\n`, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function parseState(file: string): LabState | undefined {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as LabState;
    return data.version === 1 && data.runtime === 'netns' ? data : undefined;
  } catch {
    return undefined;
  }
}

/** The state of a lab: the registry entry first (it survives `rm -rf` of the lab dir), else state.json. */
export function readState(registryFile: string, labDir: string): LabState | undefined {
  return parseState(registryFile) ?? parseState(stateFile(labDir));
}

/** Every lab in the project-wide registry. */
export function listRegistry(): LabState[] {
  if (!existsSync(REGISTRY_DIR)) return [];
  const labs: LabState[] = [];
  for (const entry of readdirSync(REGISTRY_DIR).sort()) {
    if (!entry.endsWith('.json')) continue;
    const state = parseState(join(REGISTRY_DIR, entry));
    if (state) labs.push(state);
  }
  return labs;
}

export function removeState(state: Pick<LabState, 'registryFile' | 'labDir'>): void {
  rmSync(state.registryFile, { force: true });
  rmSync(stateFile(state.labDir), { force: true });
}
