/**
 * `otwin lab deploy|destroy|inspect|exec|validate|graph`: containerlab's lab commands on either runtime.
 * The topology is loaded and fully validated before the runtime is asked to do anything, so bad
 * input exits 2 with one paragraph and leaves nothing deployed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { getRuntime, resolveRuntimeName } from '../../runtime/index.ts';
import type { InspectEntry, Runtime } from '../../runtime/runtime.ts';
import { graphDot, topologyGraph } from '../../topology/graph.ts';
import { graphSvg } from '../../topology/graph-svg.ts';
import { loadTopology } from '../../topology/load.ts';
import type { Topology } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import { installInterruptHandlers, interruptSignal, onInterrupt } from '../../util/interrupt.ts';

export const summary =
  'deploy, destroy, inspect, exec into, validate and draw (graph) containerlab topologies (netns or containerlab runtime)';

const USAGE = `usage:
  otwin lab deploy  -t <file> [--runtime netns|containerlab] [--reconfigure] [--max-workers N] [--node-filter a,b]
  otwin lab destroy -t <file> [--cleanup] | --all        [--runtime ...]
  otwin lab inspect -t <file> | --all [--format table|json] [--runtime ...]
  otwin lab exec    -t <file> --node <name> [--runtime ...] -- <command...>
  otwin lab validate -t <file> [--runtime ...]   # every problem at once, nothing deployed
  otwin lab graph   -t <file> | <file> [--out <picture>.svg|.dot]   # DOT on stdout without --out

  --runtime defaults to $OTWIN_RUNTIME, else netns. Files are containerlab topologies (*.clab.yml).`;

const OPTIONS = {
  topo: { type: 'string', short: 't' },
  runtime: { type: 'string', short: 'r' },
  reconfigure: { type: 'boolean', short: 'c' },
  'max-workers': { type: 'string' },
  'node-filter': { type: 'string' },
  all: { type: 'boolean', short: 'a' },
  cleanup: { type: 'boolean' },
  format: { type: 'string', short: 'f' },
  node: { type: 'string', short: 'n' },
  out: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = {
  topo?: string;
  runtime?: string;
  reconfigure?: boolean;
  'max-workers'?: string;
  'node-filter'?: string;
  all?: boolean;
  cleanup?: boolean;
  format?: string;
  node?: string;
  out?: string;
  help?: boolean;
};

export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(USAGE);
    return sub ? 0 : 2;
  }
  const { values, positionals } = parse(rest);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  switch (sub) {
    case 'deploy':
      return deploy(values);
    case 'destroy':
      return destroy(values);
    case 'inspect':
      return inspect(values);
    case 'exec':
      return exec(values, positionals);
    case 'validate':
      return validate(values);
    case 'graph':
      return graph({ ...values, topo: values.topo ?? positionals[0] });
    default:
      throw new UserError(`unknown lab command '${sub}'`, {
        hint: 'use deploy, destroy, inspect, exec, validate or graph',
      });
  }
}

function parse(args: string[]): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Values, positionals };
  } catch (err) {
    throw new UserError((err as Error).message, { hint: 'run `otwin lab --help` for the options' });
  }
}

async function loadFromFlag(values: Values, options: { checkBindSources?: boolean } = {}): Promise<Topology> {
  if (!values.topo)
    throw new UserError('missing -t <topology file>', {
      hint: 'e.g. otwin lab deploy -t labs/frr-evpn.clab.yml',
    });
  const topology = await loadTopology(values.topo, options);
  for (const warning of topology.warnings) console.error(`otwin: warning: ${warning}`);
  return topology;
}

async function runtimeFor(values: Values): Promise<Runtime> {
  return getRuntime(resolveRuntimeName(values.runtime));
}

/** Runs the runtime's own support check, when it has one, before anything is created; returns warnings. */
function validateFor(runtime: Runtime, topology: Topology): string[] {
  return runtime.validate?.(topology).warnings ?? [];
}

async function validate(values: Values): Promise<number> {
  const topology = await loadFromFlag(values);
  const runtime = await runtimeFor(values);
  const warnings = validateFor(runtime, topology);
  for (const warning of warnings) console.error(`otwin: warning: ${warning}`);
  const size = `${topology.nodes.length} nodes, ${topology.links.length} links`;
  console.error(`${values.topo}: lab ${topology.name} (${size}) is valid for the ${runtime.name} runtime`);
  return 0;
}

/** The lab's picture: Graphviz DOT, or SVG drawn without Graphviz (harness/topology/graph-svg.ts). */
async function graph(values: Values): Promise<number> {
  const topology = await loadFromFlag(values);
  const model = topologyGraph(topology);
  if (!values.out) {
    process.stdout.write(graphDot(model));
    return 0;
  }
  const ext = extname(values.out);
  if (ext !== '.svg' && ext !== '.dot')
    throw new UserError(`--out ${values.out}: the picture is .svg or .dot`, {
      hint: 'e.g. --out docs/img/default.svg',
    });
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, ext === '.svg' ? graphSvg(model) : graphDot(model));
  console.error(
    `${values.out}: lab ${topology.name}, ${model.nodes.length} nodes, ${model.edges.length} links`,
  );
  return 0;
}

// ---------------------------------------------------------------------------------------------

async function deploy(values: Values): Promise<number> {
  const topology = await loadFromFlag(values);
  const nodeFilter = values['node-filter']
    ?.split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  for (const name of nodeFilter ?? []) {
    if (!topology.nodes.some((n) => n.name === name)) {
      throw new UserError(`--node-filter names unknown node '${name}'`, {
        hint: `nodes of ${topology.name}: ${topology.nodes.map((n) => n.name).join(', ')}`,
      });
    }
  }
  let maxWorkers: number | undefined;
  if (values['max-workers'] !== undefined) {
    maxWorkers = Number(values['max-workers']);
    if (!Number.isInteger(maxWorkers) || maxWorkers < 1) {
      throw new UserError(`--max-workers must be a positive integer, not '${values['max-workers']}'`);
    }
  }
  const runtime = await runtimeFor(values);
  // Warnings are printed by the deploy's progress lines.
  validateFor(runtime, topology);

  const started = Date.now();
  let announced = false;
  const progress = (message: string): void => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
    // The header waits for the runtime's first word: a runtime that refuses the topology up front
    // (unsupported field) then leaves the user error as the only output.
    if (!announced) {
      announced = true;
      const size = `${topology.nodes.length} nodes, ${topology.links.length} links`;
      console.error(`[${seconds}s] deploying lab ${topology.name} (${size}) on the ${runtime.name} runtime`);
    }
    console.error(`[${seconds}s] ${message}`);
  };
  // Ctrl-C stops the deploy at its next node; the runtime then destroys what it had created.
  installInterruptHandlers();
  const deploying = runtime.deploy(topology, {
    ...(values.reconfigure ? { reconfigure: true } : {}),
    ...(nodeFilter && nodeFilter.length > 0 ? { nodeFilter } : {}),
    ...(maxWorkers !== undefined ? { maxWorkers } : {}),
    onProgress: progress,
    signal: interruptSignal,
  });
  const stopCleanup = onInterrupt({
    name: `deploy of lab ${topology.name}`,
    run: () =>
      deploying.then(
        () => undefined, // finished before it saw the signal: the user asked for this lab
        () => undefined,
      ),
    force: () => `lab ${topology.name} may be half deployed: otwin lab destroy -t ${values.topo}`,
  });
  await deploying.finally(stopCleanup);
  progress(`lab ${topology.name} deployed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(renderInspectTable(await runtime.inspect(topology), false));
  return 0;
}

async function destroy(values: Values): Promise<number> {
  const runtime = await runtimeFor(values);
  if (values.all) {
    if (values.topo) throw new UserError('use either -t <file> or --all, not both');
    const labs = await runtime.destroyAll();
    console.error(
      labs.length === 0 ? 'no labs to destroy' : `destroyed ${labs.length} lab(s): ${labs.join(', ')}`,
    );
    return 0;
  }
  // A lab must stay destroyable when, say, a bind source was removed after deploy.
  const topology = await loadFromFlag(values, { checkBindSources: false });
  const before = await runtime.status?.(topology);
  await runtime.destroy(topology, values.cleanup ? { cleanup: true } : {});
  if (before?.status === 'absent') {
    console.error(
      `lab ${topology.name} was not deployed: nothing to destroy${values.cleanup ? ' (lab directory removed)' : ''}`,
    );
  } else
    console.error(
      `destroyed lab ${topology.name}${before?.status === 'partial' ? ' (it was partially deployed)' : ''}`,
    );
  return 0;
}

async function inspect(values: Values): Promise<number> {
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') {
    throw new UserError(`unknown --format '${format}'`, { hint: 'use --format table or --format json' });
  }
  const runtime = await runtimeFor(values);
  let byLab: Record<string, InspectEntry[]>;
  if (values.all) {
    if (values.topo) throw new UserError('use either -t <file> or --all, not both');
    byLab = await runtime.inspectAll();
  } else {
    const topology = await loadFromFlag(values, { checkBindSources: false });
    const entries = await runtime.inspect(topology);
    byLab = entries.length > 0 ? { [topology.name]: entries } : {};
    const status = await runtime.status?.(topology);
    // The status line goes to stderr: `--format json` stays containerlab's shape on stdout.
    if (status) console.error(`lab ${topology.name}: ${status.detail}`);
  }
  if (format === 'json') {
    // containerlab's shape exactly: tools written for one runtime read the other's output.
    const plain = Object.fromEntries(
      Object.entries(byLab).map(([lab, entries]) => [lab, entries.map(({ runs: _runs, ...entry }) => entry)]),
    );
    console.log(JSON.stringify(plain, null, 2));
    return 0;
  }
  const all = Object.values(byLab).flat();
  if (all.length === 0) {
    console.error('no containers found');
    return 0;
  }
  console.log(renderInspectTable(all, values.all === true));
  return 0;
}

async function exec(values: Values, argv: string[]): Promise<number> {
  if (!values.node)
    throw new UserError('missing --node <name>', {
      hint: 'otwin lab exec -t <file> --node <name> -- <command...>',
    });
  if (argv.length === 0)
    throw new UserError('missing the command to run', { hint: 'put it after --, e.g. -- ip -br addr' });
  const topology = await loadFromFlag(values, { checkBindSources: false });
  if (!topology.nodes.some((n) => n.name === values.node)) {
    throw new UserError(`lab ${topology.name} has no node '${values.node}'`, {
      hint: `nodes: ${topology.nodes.map((n) => n.name).join(', ')}`,
    });
  }
  const runtime = await runtimeFor(values);
  const lab = await runtime.attach(topology);
  if (!lab) {
    throw new UserError(`lab ${topology.name} is not deployed on the ${runtime.name} runtime`, {
      hint: `deploy it first: otwin lab deploy -t ${values.topo}`,
    });
  }
  const node = lab.nodes.get(values.node);
  if (!node)
    throw new UserError(`node '${values.node}' of lab ${topology.name} is not running`, {
      hint: 'redeploy with --reconfigure',
    });
  const result = await node.exec(argv);
  if (result.stdout !== '')
    process.stdout.write(result.stdout.endsWith('\n') ? result.stdout : `${result.stdout}\n`);
  if (result.stderr !== '')
    process.stderr.write(result.stderr.endsWith('\n') ? result.stderr : `${result.stderr}\n`);
  return result.exitCode;
}

// ---------------------------------------------------------------------------------------------

/** containerlab's summary table: # | Name | Kind/Image | State | IPv4 Address (+ Lab Name with --all). */
export function renderInspectTable(entries: readonly InspectEntry[], withLab: boolean): string {
  const header = ['#', ...(withLab ? ['Lab Name'] : []), 'Name', 'Kind/Image', 'State', 'IPv4 Address'];
  const rows = entries.map((e, i) => [
    String(i + 1),
    ...(withLab ? [e.lab_name] : []),
    e.name,
    [e.kind, e.image, e.runs ? `→ ${e.runs}` : ''].filter((c) => c !== '').join('\n'),
    e.state,
    e.ipv4_address || 'N/A',
  ]);
  return renderTable(header, rows);
}

function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, col) =>
    Math.max(h.length, ...rows.map((r) => Math.max(...(r[col] ?? '').split('\n').map((l) => l.length)))),
  );
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (cells: string[]): string[] => {
    const height = Math.max(...cells.map((c) => c.split('\n').length));
    const out: string[] = [];
    for (let i = 0; i < height; i++) {
      out.push(`| ${cells.map((c, col) => (c.split('\n')[i] ?? '').padEnd(widths[col]!)).join(' | ')} |`);
    }
    return out;
  };
  return [rule, ...line(header), rule, ...rows.flatMap((r) => line(r)), rule].join('\n');
}
