/**
 * Deploy phase 3, nodes: each node passes containerlab's stages in order, waiting at each for the
 * nodes its `stages.wait-for` names — create (init with namespaces, hostname, sysctls, addresses,
 * mounts), create-links (links exist from the network phase), configure (profile software, cmd,
 * exec lines), healthy (no healthcheck here: reached when configured). A `kind: host` node runs
 * its exec lines on the host in the configure stage.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../util/errors.ts';
import { run } from '../../util/exec.ts';
import { sleep } from '../../util/poll.ts';
import type { Stage, StageExec } from './fields.ts';
import type { NodeContext } from './files.ts';
import { mgmtNodeLines } from './mgmt.ts';
import { nodeMarker } from './names.ts';
import { NetnsNode, runExecLines, startCmd, startInit } from './node.ts';
import type { DeployPlan, NodePlan } from './plan.ts';
import { runPool } from './pool.ts';
import type { StageBoard } from './stages.ts';
import { type LabState, writeState } from './state.ts';
import { where } from './validate.ts';

export interface StartOptions {
  maxWorkers: number;
  progress: (message: string) => void;
  /** Ctrl-C: no further node starts once it fires. */
  signal?: AbortSignal;
}

export async function startNodes(
  plan: DeployPlan,
  state: LabState,
  contexts: ReadonlyMap<string, NodeContext>,
  board: StageBoard,
  options: StartOptions,
): Promise<void> {
  // A node waiting for another holds a worker: with waits, every node gets one (no deadlock).
  const limit = board.hasWaits ? plan.nodes.length : options.maxWorkers;
  await runPool(plan.nodes, limit, async (p) => {
    try {
      options.signal?.throwIfAborted();
      await startNode(plan, p, state, contexts.get(p.node.name)!, board, options.progress);
    } catch (err) {
      board.abort(err);
      throw err;
    }
  });
}

async function startNode(
  plan: DeployPlan,
  p: NodePlan,
  state: LabState,
  ctx: NodeContext,
  board: StageBoard,
  progress: (message: string) => void,
): Promise<void> {
  const { node } = p;
  const nodeState = state.nodes[node.name]!;
  let labNode: NetnsNode | undefined;
  // Each stage: wait for what it waits for, on-enter commands, its work, on-exit commands.
  const stage = async (name: Stage, work: () => Promise<void> = async () => {}): Promise<void> => {
    await board.enter(node.name, name);
    await runStageExec(p, ctx, labNode, name, 'on-enter');
    await work();
    await runStageExec(p, ctx, labNode, name, 'on-exit');
    board.reached(node.name, name);
  };

  await stage('create', async () => {
    const delay = Number(node.extra['startup-delay'] ?? 0);
    if (delay > 0) await sleep(delay * 1000);
    if (!p.profile) return;
    progress(`starting node ${node.name} (${p.profile.name === 'linux' ? node.kind : p.profile.name})`);
    const sysctls: Record<string, string> = !p.profile.forwards
      ? {}
      : { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' };
    const userSysctls = node.extra.sysctls;
    if (userSysctls && typeof userSysctls === 'object') {
      for (const [k, v] of Object.entries(userSysctls)) sysctls[k] = String(v);
    }
    const hostname = node.extra.hostname;
    const init = await startInit({
      netns: p.netns,
      marker: nodeMarker(plan.names, node.name),
      hostname: typeof hostname === 'string' ? hostname : node.name,
      sysctls,
      ipLines: [
        'link set dev lo up',
        ...p.ifaces.map((i) => `link set dev ${i} up`),
        ...p.addrLines,
        ...mgmtNodeLines(plan.mgmt, node.name),
        ...p.profile.ipLines(ctx),
      ],
      mounts: ctx.mounts,
    });
    nodeState.pid = init.pid;
    nodeState.pidStartTime = init.startTime;
    nodeState.startedAt = new Date().toISOString();
    writeState(state);
    labNode = new NetnsNode(nodeState);
  });
  // Links were created with the namespaces, before any node started.
  await stage('create-links');
  await stage('configure', async () => {
    if (labNode && p.profile) {
      await p.profile.start(ctx, labNode);
      if (node.cmd) {
        const cmdPid = await startCmd(labNode, node.cmd, join(ctx.nodeDir, 'cmd.log'));
        if (cmdPid !== undefined) nodeState.cmdPid = cmdPid;
      }
    }
    if (node.exec.length > 0) await runExec(p, ctx, labNode, progress);
  });
  await stage('healthy');
}

/** containerlab stage exec: commands of one stage and phase, in the node or on the host, logged. */
async function runStageExec(
  p: NodePlan,
  ctx: NodeContext,
  labNode: NetnsNode | undefined,
  stage: Stage,
  phase: StageExec['phase'],
): Promise<void> {
  const commands = p.stageExecs.filter((e) => e.stage === stage && e.phase === phase);
  for (const e of commands) {
    const result =
      e.target === 'container' && labNode
        ? await runExecLines(labNode, [e.command])
        : await runHostExec([e.command], p.node.env);
    appendFileSync(join(ctx.nodeDir, 'stages.log'), `## ${stage} ${phase} (${e.target})\n${result.output}\n`);
    if (!result.ok) {
      throw new UserError(
        `node '${p.node.name}': stages.${stage}.exec ${phase} \`${e.command}\` failed (exit ${result.failedLine?.exitCode})`,
        {
          where: where(p.node.extraPos.stages ?? p.node.pos),
          hint: `fix the command; its output is in ${join(ctx.nodeDir, 'stages.log')}`,
        },
      );
    }
  }
}

async function runExec(
  p: NodePlan,
  ctx: NodeContext,
  labNode: NetnsNode | undefined,
  progress: (message: string) => void,
): Promise<void> {
  const { node } = p;
  const logFile = join(ctx.nodeDir, 'exec.log');
  let result: Awaited<ReturnType<typeof runExecLines>>;
  if (labNode) result = await runExecLines(labNode, node.exec);
  else {
    // kind: host — containerlab runs these on the host itself (lab files are trusted code).
    progress(`running ${node.exec.length} exec line(s) of host node ${node.name} on this machine`);
    result = await runHostExec(node.exec, node.env);
  }
  writeFileSync(logFile, result.output);
  if (!result.ok && result.failedLine) {
    const f = result.failedLine;
    throw new UserError(
      `node '${node.name}': exec line ${f.index} \`${f.line}\` failed (exit ${f.exitCode}): ${f.output.split('\n').slice(-3).join(' ').slice(0, 300)}`,
      { where: where(node.pos), hint: `fix the exec line; its output is in ${logFile}` },
    );
  }
}

async function runHostExec(
  lines: readonly string[],
  env: Record<string, string>,
): Promise<Awaited<ReturnType<typeof runExecLines>>> {
  let output = '';
  for (const [i, line] of lines.entries()) {
    const r = await run('sh', ['-c', line], {
      env: { ...(process.env as Record<string, string>), ...env },
      timeoutMs: 120_000,
    });
    output += `### exec ${i + 1}: ${line}\n${r.stdout}${r.stderr ? `\n${r.stderr}` : ''}\n### exit ${r.exitCode}\n`;
    if (r.exitCode !== 0) {
      return {
        ok: false,
        output,
        failedLine: { index: i + 1, line, exitCode: r.exitCode, output: (r.stderr || r.stdout).trim() },
      };
    }
  }
  return { ok: true, output };
}
