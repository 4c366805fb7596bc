/**
 * FRR for FRR routers (an image containing `frr`, or FRR config bound under /etc/frr/, see
 * routing.ts): the machine's FRR started inside the node, as containerlab's FRR
 * image does it (`frrinit.sh start`: watchfrr plus the daemons enabled in /etc/frr/daemons, then
 * `vtysh -b` applies the integrated frr.conf). The node's private mount namespace gets its own
 * /etc/frr, /var/run/frr, /var/log/frr and /var/tmp (FRR's crash-log dir) from per-node folders in
 * the lab directory, so the instances never share pid files, vty sockets or config; the node's
 * `daemons`/`frr.conf` binds are mounted on top, unchanged.
 */
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { HarnessError, UserError } from '../../../util/errors.ts';
import { waitFor } from '../../../util/poll.ts';
import { frrEvidence, hostFrrVersion } from '../routing.ts';
import { where } from '../validate.ts';
import type { NodeProfile, ProfileContext, ProfileMount } from './profile.ts';

const FRR_INIT = '/usr/lib/frr/frrinit.sh';

/** Debian's default daemons file, for hosts whose /etc/frr/daemons is unreadable. */
const DEFAULT_DAEMONS = `zebra=yes
bgpd=no
ospfd=no
ospf6d=no
ripd=no
ripngd=no
isisd=no
pimd=no
ldpd=no
nhrpd=no
eigrpd=no
babeld=no
sharpd=no
pbrd=no
bfdd=no
fabricd=no
vrrpd=no
pathd=no
vtysh_enable=yes
zebra_options="  -A 127.0.0.1 -s 90000000"
bgpd_options="   -A 127.0.0.1"
staticd_options="-A 127.0.0.1"
bfdd_options="   -A 127.0.0.1"
`;

let frrIds: { uid: number; gid: number } | undefined;

/** uid/gid of the `frr` user (FRR drops privileges to it; its run/log folders must be its own). */
function frrOwner(): { uid: number; gid: number } {
  if (frrIds) return frrIds;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('frr:'));
  if (!line) throw new HarnessError('user frr not found in /etc/passwd: is the frr package installed?');
  const fields = line.split(':');
  frrIds = { uid: Number(fields[2]), gid: Number(fields[3]) };
  return frrIds;
}

function chownTree(path: string, owner: { uid: number; gid: number }): void {
  chownSync(path, owner.uid, owner.gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) chownTree(full, owner);
    else chownSync(full, owner.uid, owner.gid);
  }
}

export function frrDirs(nodeDir: string): { etc: string; run: string; log: string; tmp: string } {
  const base = join(nodeDir, 'frr');
  return {
    etc: join(base, 'etc'),
    run: join(base, 'run'),
    log: join(base, 'log'),
    tmp: join(nodeDir, 'tmp'),
  };
}

export const frrProfile: NodeProfile = {
  name: 'frr',
  kinds: ['linux'],
  selects: (node) => frrEvidence(node) !== undefined,
  hasMgmt: true,
  forwards: true,
  listed: true,
  runs: () => `FRR ${hostFrrVersion()} (this machine's)`,

  prepare(ctx: ProfileContext): ProfileMount[] {
    if (!existsSync(FRR_INIT)) {
      throw new UserError(
        `node '${ctx.node.name}' uses image '${ctx.node.image}' but FRR is not installed here (${FRR_INIT} missing)`,
        {
          where: where(ctx.node.pos),
          hint: 'install the Debian package frr (scripts/setup.sh does), or deploy with --runtime containerlab',
        },
      );
    }
    const dirs = frrDirs(ctx.nodeDir);
    // A fresh FRR per deploy, like a fresh container: no stale pid files, sockets or saved config.
    rmSync(join(ctx.nodeDir, 'frr'), { recursive: true, force: true });
    rmSync(dirs.tmp, { recursive: true, force: true });
    for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
    try {
      copyFileSync('/etc/frr/daemons', join(dirs.etc, 'daemons'));
    } catch {
      writeFileSync(join(dirs.etc, 'daemons'), DEFAULT_DAEMONS);
    }
    writeFileSync(join(dirs.etc, 'vtysh.conf'), 'service integrated-vtysh-config\n');
    chownTree(join(ctx.nodeDir, 'frr'), frrOwner());
    // /var/tmp inside the node: world-writable with the sticky bit, as everywhere.
    chmodSync(dirs.tmp, 0o1777);
    return [
      { source: dirs.etc, target: '/etc/frr', readOnly: false },
      { source: dirs.run, target: '/var/run/frr', readOnly: false },
      { source: dirs.log, target: '/var/log/frr', readOnly: false },
      { source: dirs.tmp, target: '/var/tmp', readOnly: false },
    ];
  },

  ipLines: () => [],

  async start(ctx, node) {
    const result = await node.exec([FRR_INIT, 'start']);
    writeFileSync(join(ctx.nodeDir, 'frr-start.log'), `${result.stdout}\n${result.stderr}\n`);
    if (result.exitCode !== 0) {
      throw new HarnessError(
        `node '${ctx.node.name}': ${FRR_INIT} start failed (exit ${result.exitCode}): ${(result.stderr || result.stdout).trim().slice(0, 400)}`,
      );
    }
    if (ctx.node.exec.length > 0) {
      // exec lines (e.g. `vtysh -c ...`) need the daemons up: watchfrr touches watchfrr.started then.
      const started = join(frrDirs(ctx.nodeDir).run, 'watchfrr.started');
      await waitFor(
        () => existsSync(started),
        (ok) => ok,
        { timeoutMs: 30_000, intervalMs: 50, what: `FRR daemons of node '${ctx.node.name}' to start` },
      );
    }
  },
};
