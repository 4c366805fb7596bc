/**
 * Loads a containerlab topology file (`*.clab.yml`) into the Topology model:
 * read → reject Go templates → expand `${VAR:=default}` → parse YAML (positions kept) → validate
 * against containerlab's JSON schema → apply inheritance (defaults → kinds → groups → node) →
 * resolve links and binds, checking what the schema cannot (endpoints, unknown nodes, duplicates,
 * bind sources). Every problem is a UserError pointing at file:line:col.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseDocument } from 'yaml';
import { closest } from '../util/closest.ts';
import { UserError } from '../util/errors.ts';
import { expandEnv } from './envsubst.ts';
import { LAB_NAME_PATTERN, MAC_PATTERN, NODE_NAME_PATTERN, PREFIX_PATTERN } from './names.ts';
import { ProblemList, ProblemReport } from './problems.ts';
import { clabSchema, clabSchemaPath, KNOWN_LINK_TYPES, pointerToPath, type SchemaError } from './schema.ts';
import { formatPath, TopologySource, type YamlPath } from './source.ts';
import type {
  BindMount,
  LinkEndpoint,
  MgmtNetwork,
  SourcePos,
  Topology,
  TopologyLink,
  TopologyNode,
} from './types.ts';

export { findUnsupported, rejectUnsupported, type SupportPolicy, type Unsupported } from './support.ts';

export interface LoadOptions {
  /** Variables for `${VAR}` expansion; defaults to process.env. */
  env?: Record<string, string>;
  /**
   * Check that every bind source exists (default true). `destroy`/`inspect` turn it off so a lab
   * stays manageable after a bind source was removed.
   */
  checkBindSources?: boolean;
}

type Raw = Record<string, unknown>;

const DEFAULT_MGMT_NETWORK = 'clab';
const DEFAULT_MGMT_IPV4_SUBNET = '172.20.20.0/24';

/** Node fields the model carries in named properties; everything else goes to `extra`. */
const MODELLED_NODE_FIELDS = new Set([
  'env-files',
  'kind',
  'image',
  'group',
  'binds',
  'exec',
  'cmd',
  'env',
  'labels',
  'mgmt-ipv4',
  'mgmt-ipv6',
]);
/** Extra node fields containerlab merges across levels instead of overriding. */
const MERGED_MAP_FIELDS = new Set(['sysctls']);
const MERGED_LIST_FIELDS = new Set(['devices', 'cap-add']);

/** Brief-form endpoint "nodes" that are not nodes but containerlab link types. */
const SPECIAL_BRIEF_NODES = new Set(['host', 'mgmt-net', 'macvlan']);
/** Kinds whose interfaces are plain Linux interfaces (names must be valid Linux ifnames). */
const LINUX_IFNAME_KINDS = new Set(['linux', 'bridge', 'ovs-bridge']);

const SCHEMA_HINT = 'see https://containerlab.dev/manual/topo-def-file/ for the topology file format';

export async function loadTopology(file: string, options: LoadOptions = {}): Promise<Topology> {
  return loadTopologySync(file, options);
}

/** loadTopology for synchronous callers (scenario validation): the loading itself never waits. */
export function loadTopologySync(file: string, options: LoadOptions = {}): Topology {
  const abs = resolve(file);
  const rel = relative(process.cwd(), abs);
  const display = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT'
        ? `topology file ${display} does not exist`
        : `cannot read topology file ${display}: ${code}`,
      { hint: 'pass the path of a containerlab topology file (*.clab.yml) with -t' },
    );
  }
  const env = options.env ?? (process.env as Record<string, string>);
  const source = new TopologySource(display, text, expandEnv(text, env));
  rejectGoTemplates(source);

  const doc = parseDocument(source.expansion.text, { merge: true, uniqueKeys: true, prettyErrors: false });
  source.document = doc;
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = source.posAtExpanded(yamlError.pos[0]);
    const what = yamlError.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new UserError(`YAML syntax error: ${what}`, {
      where: `${pos.file}:${pos.line}:${pos.col}`,
      hint: 'fix the YAML syntax (indentation, quoting, a missing ":" or "-")',
    });
  }
  const data: unknown = doc.toJS({ maxAliasCount: 1000 });

  const warnings: string[] = [];
  const schema = clabSchema();
  if (schema) validateAgainstSchema(source, data, schema);
  else warnings.push(`containerlab schema not found at ${clabSchemaPath()}: schema validation skipped`);

  return buildTopology(source, abs, data, warnings, options.checkBindSources ?? true);
}

// ---------------------------------------------------------------------------------------------
// Templates

function rejectGoTemplates(source: TopologySource): void {
  const at = source.original.indexOf('{{');
  if (at < 0) return;
  throw new UserError('Go templates ({{ ... }}) are not supported in topology files', {
    where: whereOfOriginal(source, at),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the hint names containerlab's ${VAR} syntax
    hint: 'render the template first (e.g. `containerlab deploy --export-template`), or use ${VAR:=default} variables',
  });
}

function whereOfOriginal(source: TopologySource, offset: number): string {
  const { line, col } = source.lineCol(offset);
  return `${source.displayFile}:${line}:${col}`;
}

// ---------------------------------------------------------------------------------------------
// Schema validation

type Compiled = NonNullable<ReturnType<typeof clabSchema>>;

interface Problem {
  path: (string | number)[];
  key: boolean;
  message: string;
}

function validateAgainstSchema(source: TopologySource, data: unknown, schema: Compiled): void {
  if (schema.validate(data)) return;
  const errors = schema.validate.errors ?? [];
  const problems: Problem[] = [];
  const linksWithErrors = new Set<number>();
  for (const e of errors) {
    const path = pointerToPath(e.instancePath);
    if (path[0] === 'topology' && path[1] === 'links' && path.length >= 3) {
      linksWithErrors.add(Number(path[2]));
      continue;
    }
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf') continue;
    // The `null` alternative of `nodes.<name>: oneOf [null, node-config]` is noise once the node is a map.
    if (e.keyword === 'type' && (e.params as { type?: string }).type === 'null') continue;
    problems.push(describeSchemaError(e, path));
  }
  const links = (data as Raw | undefined)?.topology as Raw | undefined;
  for (const index of linksWithErrors) {
    const link = (links?.links as unknown[] | undefined)?.[index];
    problems.push(...linkProblems(link, index, schema));
  }
  if (problems.length === 0) {
    const e = errors[0]!;
    problems.push(describeSchemaError(e, pointerToPath(e.instancePath)));
  }
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${formatPath(p.path)}\n${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  // Every problem at once, in file order.
  throw new ProblemReport(
    source.displayFile,
    unique.map((p) => {
      const pos = source.pos(p.path, { key: p.key });
      return new UserError(`${p.message} (at ${pos.path})`, {
        where: `${pos.file}:${pos.line}:${pos.col}`,
        hint: `the file does not match containerlab's schema; ${SCHEMA_HINT}`,
      });
    }),
  );
}

function linkProblems(link: unknown, index: number, schema: Compiled): Problem[] {
  const base: (string | number)[] = ['topology', 'links', index];
  if (link === null || typeof link !== 'object' || Array.isArray(link)) {
    return [{ path: base, key: false, message: `link #${index + 1} must be a mapping with "endpoints"` }];
  }
  const type = (link as Raw).type;
  const typeName = typeof type === 'string' ? type : '';
  const validate = schema.linkValidators.get(typeName);
  if (type !== undefined && !validate) {
    return [
      {
        path: [...base, 'type'],
        key: false,
        message: `unknown link type '${String(type)}' (containerlab knows ${KNOWN_LINK_TYPES.join(', ')})`,
      },
    ];
  }
  if (!validate || validate(link)) return [];
  return (validate.errors ?? [])
    .filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf')
    .map((e) => describeSchemaError(e, [...base, ...pointerToPath(e.instancePath)]));
}

function describeSchemaError(e: SchemaError, path: (string | number)[]): Problem {
  const field = path.length > 0 ? `'${path[path.length - 1]}'` : 'the document';
  const where = contextOf(path);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const prop = String(params.additionalProperty);
      const allowed = Object.keys((e.parentSchema as { properties?: Raw } | undefined)?.properties ?? {});
      const guess = closest(prop, allowed);
      return {
        path: [...path, prop],
        key: true,
        message: `unknown field '${prop}'${contextOf([...path, prop])}${guess ? ` (did you mean '${guess}'?)` : ''}`,
      };
    }
    case 'required':
      return {
        path,
        key: false,
        message: `missing required field '${String(params.missingProperty)}'${where}`,
      };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const value = String(e.data);
      const guess = closest(value, allowed);
      const list = allowed.length <= 8 ? ` (one of ${allowed.join(', ')})` : '';
      const name = path[path.length - 1] ?? 'value';
      return {
        path,
        key: false,
        message: `${name} '${value}'${where} is not one containerlab accepts${list}${guess ? `; did you mean '${guess}'?` : ''}`,
      };
    }
    case 'type':
      return {
        path,
        key: false,
        message: `${field} must be ${article(String(params.type))}${where}, not ${describeValue(e.data)}`,
      };
    case 'pattern':
      return {
        path,
        key: false,
        message: `${field} value '${String(e.data)}' does not have the expected format${where} (pattern ${String(params.pattern)})`,
      };
    default:
      return { path, key: false, message: `${field}${where} ${e.message ?? 'is invalid'}` };
  }
}

/** " in node 'r1'", " in kinds.linux", " in link #2", ... for messages. */
function contextOf(path: readonly (string | number)[]): string {
  const [top, section, name] = path;
  if (top === 'topology') {
    if (section === 'nodes' && name !== undefined && path.length > 3) return ` in node '${name}'`;
    if ((section === 'kinds' || section === 'groups') && name !== undefined && path.length > 3)
      return ` in ${section}.${name}`;
    if (section === 'defaults' && path.length > 2) return ' in topology.defaults';
    if (section === 'links' && name !== undefined) return ` in link #${Number(name) + 1}`;
  }
  if (top === 'mgmt' && path.length > 1) return ' in the mgmt block';
  return '';
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

// ---------------------------------------------------------------------------------------------
// Model

function isRecord(value: unknown): value is Raw {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** One level of inheritance: the raw definition and its YAML path (for positions). */
interface Level {
  raw: Raw;
  path: string[];
}

function buildTopology(
  source: TopologySource,
  file: string,
  data: unknown,
  warnings: string[],
  checkBindSources: boolean,
): Topology {
  // Structural checks the schema also makes: repeated here so a missing schema still gives clear errors.
  if (!isRecord(data))
    throw source.error([], 'the topology file must be a YAML mapping with "name" and "topology"');
  const name = data.name;
  if (typeof name !== 'string' || name === '') {
    throw source.error(['name'], 'the topology needs a "name" (a string)', SCHEMA_HINT, { key: true });
  }
  const topo = data.topology;
  if (!isRecord(topo))
    throw source.error(['topology'], 'the "topology" section must be a mapping with "nodes"', SCHEMA_HINT);
  const nodesRaw = topo.nodes;
  if (!isRecord(nodesRaw))
    throw source.error(
      ['topology', 'nodes'],
      '"topology.nodes" must be a mapping of node names',
      SCHEMA_HINT,
    );

  const problems = new ProblemList();
  if (!LAB_NAME_PATTERN.test(name)) {
    problems.add(
      source.error(
        ['name'],
        `lab name ${JSON.stringify(name)} is not a containerlab lab name (pattern ${LAB_NAME_PATTERN.source})`,
        'use letters, digits, ".", "_" and "-", starting with a letter or digit (the name becomes a folder and namespace names)',
      ),
    );
  }
  if (typeof data.prefix === 'string' && !PREFIX_PATTERN.test(data.prefix)) {
    problems.add(
      source.error(
        ['prefix'],
        `prefix ${JSON.stringify(data.prefix)} is not a containerlab prefix`,
        SCHEMA_HINT,
      ),
    );
  }
  const dir = dirname(file);
  const labDir = join(dir, `clab-${name}`);
  const prefixRaw = data.prefix;
  const prefix = typeof prefixRaw === 'string' ? prefixRaw : 'clab';
  const longNamePrefix = prefix === '' ? '' : prefix === '__lab-name' ? `${name}-` : `${prefix}-${name}-`;

  const defaults: Level | undefined = isRecord(topo.defaults)
    ? { raw: topo.defaults, path: ['topology', 'defaults'] }
    : undefined;
  const kinds = isRecord(topo.kinds) ? topo.kinds : {};
  const groups = isRecord(topo.groups) ? topo.groups : {};
  const levelOf = (section: 'kinds' | 'groups', key: string | undefined): Level | undefined => {
    if (key === undefined) return undefined;
    const raw = (section === 'kinds' ? kinds : groups)[key];
    return isRecord(raw) ? { raw, path: ['topology', section, key] } : undefined;
  };

  const ctx: NodeBuild = {
    source,
    problems,
    dir,
    labDir,
    longNamePrefix,
    checkBindSources,
    defaults,
    levelOf,
  };
  const nodes: TopologyNode[] = [];
  for (const [nodeName, nodeRaw] of Object.entries(nodesRaw)) {
    const node = buildNode(ctx, nodeName, nodeRaw);
    if (node) nodes.push(node);
  }

  const links = buildLinks(source, topo.links, nodes, problems);
  problems.throwIfAny(source.displayFile);
  const mgmt = buildMgmt(source, data.mgmt);
  const extra: Record<string, unknown> = {};
  const extraPos: Record<string, SourcePos> = {};
  for (const [key, value] of Object.entries(data)) {
    if (['name', 'prefix', 'mgmt', 'topology'].includes(key)) continue;
    extra[key] = value;
    extraPos[key] = source.pos([key], { key: true });
  }

  return {
    name,
    file,
    dir,
    prefix,
    mgmt,
    nodes,
    links,
    labDir,
    longNamePrefix,
    extra,
    extraPos,
    warnings,
    pos: source.pos([]),
  };
}

/** What every node of one topology is built against: the file, the lab paths, the inheritance levels. */
interface NodeBuild {
  source: TopologySource;
  problems: ProblemList;
  dir: string;
  labDir: string;
  longNamePrefix: string;
  checkBindSources: boolean;
  defaults: Level | undefined;
  levelOf(section: 'kinds' | 'groups', key: string | undefined): Level | undefined;
}

/** One node with containerlab's inheritance (node, group, kind, defaults); undefined after a problem. */
function buildNode(ctx: NodeBuild, nodeName: string, nodeRaw: unknown): TopologyNode | undefined {
  const nodePath = ['topology', 'nodes', nodeName];
  if (!NODE_NAME_PATTERN.test(nodeName)) {
    ctx.problems.add(
      ctx.source.error(
        nodePath,
        `node name ${JSON.stringify(nodeName)} is not a containerlab node name (pattern ${NODE_NAME_PATTERN.source})`,
        'use letters, digits, ".", "_", "|" and "-", starting with a letter or digit',
        { key: true },
      ),
    );
    return undefined;
  }
  if (nodeRaw !== null && nodeRaw !== undefined && !isRecord(nodeRaw)) {
    ctx.problems.add(
      ctx.source.error(nodePath, `node '${nodeName}' must be a mapping of node fields`, SCHEMA_HINT),
    );
    return undefined;
  }
  const node: Level = { raw: (nodeRaw as Raw | null) ?? {}, path: nodePath };
  const str = (level: Level | undefined, key: string): string | undefined => {
    const v = level?.raw[key];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  // containerlab: kind from the node, its group, the defaults' group, then the defaults.
  const kind = (
    str(node, 'kind') ??
    str(ctx.levelOf('groups', str(node, 'group')), 'kind') ??
    str(ctx.levelOf('groups', str(ctx.defaults, 'group')), 'kind') ??
    str(ctx.defaults, 'kind')
  )?.toLowerCase();
  if (!kind) {
    ctx.problems.add(
      ctx.source.error(
        nodePath,
        `node '${nodeName}' has no kind`,
        'set `kind:` on the node, in its group or in topology.defaults (e.g. `kind: linux`)',
        { key: true },
      ),
    );
    return undefined;
  }
  const kindLevel = ctx.levelOf('kinds', kind);
  // containerlab: group from the node, its kind, then the defaults.
  const group = str(node, 'group') ?? str(kindLevel, 'group') ?? str(ctx.defaults, 'group');
  const groupLevel = ctx.levelOf('groups', group);
  const mostSpecificFirst = [node, groupLevel, kindLevel, ctx.defaults].filter(
    (l): l is Level => l !== undefined,
  );
  const leastSpecificFirst = [...mostSpecificFirst].reverse();
  const scalar = (key: string): string | undefined => {
    for (const level of mostSpecificFirst) {
      const v = str(level, key);
      if (v !== undefined) return v;
    }
    return undefined;
  };

  return {
    name: nodeName,
    kind,
    image: scalar('image') ?? '',
    group,
    ...mergeLevels(ctx, nodeName, leastSpecificFirst),
    cmd: scalar('cmd'),
    // containerlab takes management addresses from the node only (one address per node).
    mgmtIPv4: str(node, 'mgmt-ipv4'),
    mgmtIPv6: str(node, 'mgmt-ipv6'),
    ...extraFields(ctx.source, leastSpecificFirst),
    longName: `${ctx.longNamePrefix}${nodeName}`,
    pos: ctx.source.pos(nodePath, { key: true }),
  };
}

/** The fields containerlab merges across levels (least specific first): env, labels, exec, binds, env-files. */
function mergeLevels(
  ctx: NodeBuild,
  nodeName: string,
  leastSpecificFirst: Level[],
): Pick<TopologyNode, 'env' | 'envFiles' | 'labels' | 'exec' | 'binds'> {
  const env: Record<string, string> = {};
  const envFiles: string[] = [];
  const fromEnvFiles: Record<string, string> = {};
  const labels: Record<string, string> = {};
  const exec: string[] = [];
  const binds = new Map<string, BindMount>();
  for (const level of leastSpecificFirst) {
    Object.assign(env, stringMap(level.raw.env));
    Object.assign(labels, stringMap(level.raw.labels));
    if (Array.isArray(level.raw.exec)) exec.push(...level.raw.exec.map(String));
    if (Array.isArray(level.raw.binds)) {
      level.raw.binds.forEach((spec, index) => {
        const bind = ctx.problems.check(() =>
          parseBind(ctx.source, String(spec), [...level.path, 'binds', index], {
            dir: ctx.dir,
            labDir: ctx.labDir,
            nodeName,
            checkBindSources: ctx.checkBindSources,
          }),
        );
        // containerlab indexes binds by target: a more specific level replaces a less specific one.
        if (bind) binds.set(bind.target, bind);
      });
    }
    if (Array.isArray(level.raw['env-files'])) {
      level.raw['env-files'].forEach((spec, index) => {
        const path = [...level.path, 'env-files', index];
        const read = ctx.problems.check(() =>
          readEnvFile(ctx.source, String(spec), path, ctx.dir, ctx.checkBindSources),
        );
        if (read && !envFiles.includes(read.file)) {
          envFiles.push(read.file);
          Object.assign(fromEnvFiles, read.vars);
        }
      });
    }
  }
  // containerlab: variables from env-files first, `env:` wins over them.
  const mergedEnv = { ...fromEnvFiles, ...env };
  return { env: mergedEnv, envFiles, labels, exec, binds: [...binds.values()] };
}

/** Fields the model does not hold, merged across levels as containerlab does, with where each was set. */
function extraFields(
  source: TopologySource,
  leastSpecificFirst: Level[],
): Pick<TopologyNode, 'extra' | 'extraPos'> {
  const extra: Record<string, unknown> = {};
  const extraPos: Record<string, SourcePos> = {};
  for (const level of leastSpecificFirst) {
    for (const [key, value] of Object.entries(level.raw)) {
      if (MODELLED_NODE_FIELDS.has(key) || value === null || value === undefined) continue;
      if (MERGED_MAP_FIELDS.has(key) && isRecord(value)) {
        extra[key] = { ...(isRecord(extra[key]) ? extra[key] : {}), ...value };
      } else if (MERGED_LIST_FIELDS.has(key) && Array.isArray(value)) {
        const before = Array.isArray(extra[key]) ? (extra[key] as unknown[]) : [];
        extra[key] = [...new Set([...before, ...value])];
      } else {
        extra[key] = value;
      }
      extraPos[key] = source.pos([...level.path, key], { key: true });
    }
  }
  return { extra, extraPos };
}

function stringMap(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) out[k] = v === null || v === undefined ? '' : String(v);
  return out;
}

function buildMgmt(source: TopologySource, raw: unknown): MgmtNetwork {
  const m = isRecord(raw) ? raw : {};
  const s = (key: string): string | undefined =>
    typeof m[key] === 'string' && m[key] !== '' ? (m[key] as string) : undefined;
  const extra: Record<string, unknown> = {};
  const extraPos: Record<string, SourcePos> = {};
  for (const [key, value] of Object.entries(m)) {
    if (['network', 'ipv4-subnet', 'ipv6-subnet', 'bridge'].includes(key)) continue;
    extra[key] = value;
    extraPos[key] = source.pos(['mgmt', key], { key: true });
  }
  const ipv4 = s('ipv4-subnet');
  return {
    network: s('network') ?? DEFAULT_MGMT_NETWORK,
    ipv4Subnet: ipv4 ?? DEFAULT_MGMT_IPV4_SUBNET,
    ipv6Subnet: s('ipv6-subnet'),
    bridge: s('bridge'),
    ipv4SubnetFromFile: ipv4 !== undefined,
    extra,
    extraPos,
  };
}

// ---------------------------------------------------------------------------------------------
// env-files

/**
 * One containerlab `env-files` entry: a file of `KEY=value` lines (blank lines and `#` comments
 * skipped, an optional `export ` prefix allowed), resolved relative to the topology file's folder.
 */
function readEnvFile(
  source: TopologySource,
  spec: string,
  path: YamlPath,
  dir: string,
  mustExist: boolean,
): { file: string; vars: Record<string, string> } {
  const host = spec === '~' || spec.startsWith('~/') ? join(homedir(), spec.slice(1)) : spec;
  const file = resolve(dir, host);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    if (!mustExist) return { file, vars: {} };
    throw source.error(
      path,
      `env file '${spec}' cannot be read (looked for ${file})`,
      "env-files are relative to the topology file's folder; create the file or fix the path",
    );
  }
  const vars: Record<string, string> = {};
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      throw source.error(
        path,
        `line ${index + 1} of env file '${spec}' is not KEY=value: ${JSON.stringify(line.slice(0, 60))}`,
        'write one KEY=value per line (# starts a comment)',
      );
    }
    const value = m[2]!;
    const quoted = /^(["'])(.*)\1$/.exec(value);
    vars[m[1]!] = quoted ? quoted[2]! : value;
  });
  return { file, vars };
}

// ---------------------------------------------------------------------------------------------
// Binds

function parseBind(
  source: TopologySource,
  spec: string,
  path: YamlPath,
  ctx: { dir: string; labDir: string; nodeName: string; checkBindSources: boolean },
): BindMount {
  const pos = source.pos(path);
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || parts[0] === '' || parts[1] === '') {
    throw source.error(
      path,
      `bind '${spec}' is not of the form <host path>:<node path>[:ro]`,
      'write binds as "<file or folder beside the topology>:<path inside the node>", optionally with ":ro"',
    );
  }
  const [src, target, opts] = parts as [string, string, string | undefined];
  let host = src
    .replace(/__clabNodeDir__/g, join(ctx.labDir, ctx.nodeName))
    .replace(/__clabDir__/g, ctx.labDir)
    .replace(/__clabNodeName__/g, ctx.nodeName);
  if (host === '~' || host.startsWith('~/')) host = join(homedir(), host.slice(1));
  const absolute = resolve(ctx.dir, host);
  // Paths inside the lab directory are created by the runtime at deploy time.
  const insideLabDir = absolute === ctx.labDir || absolute.startsWith(ctx.labDir + sep);
  if (ctx.checkBindSources && !insideLabDir && !existsSync(absolute)) {
    throw source.error(
      path,
      `bind source '${src}' does not exist (looked for ${absolute})`,
      "bind sources are relative to the topology file's folder; create the file or fix the path",
    );
  }
  const options = opts ? opts.split(',').filter((o) => o !== '') : [];
  return { source: absolute, target, readOnly: options.includes('ro'), options, pos };
}

// ---------------------------------------------------------------------------------------------
// Links

function buildLinks(
  source: TopologySource,
  raw: unknown,
  nodes: TopologyNode[],
  problems: ProblemList,
): TopologyLink[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw))
    throw source.error(['topology', 'links'], '"topology.links" must be a list of links', SCHEMA_HINT);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const used = new Map<string, SourcePos>();
  const links: TopologyLink[] = [];

  raw.forEach((linkRaw, index) => {
    const path = ['topology', 'links', index];
    if (!isRecord(linkRaw)) {
      problems.add(source.error(path, `link #${index + 1} must be a mapping with "endpoints"`, SCHEMA_HINT));
      return;
    }
    const type = linkRaw.type === undefined ? undefined : String(linkRaw.type);
    const link = problems.check(() =>
      type === undefined
        ? briefLink(source, linkRaw, path, index, byName)
        : type === 'veth'
          ? extendedVeth(source, linkRaw, path, index)
          : singleEndpointLink(source, linkRaw, path, index, type),
    );
    if (!link) return;

    // Non-veth links have one node endpoint; the second is the pseudo endpoint (host, vxlan, ...).
    const nodeEndpoints = link.type === 'veth' ? link.endpoints : [link.endpoints[0]];
    for (const ep of nodeEndpoints) {
      if (!ep.pos) continue;
      const node = byName.get(ep.node);
      if (!node) {
        problems.add(
          errorAtPos(
            ep.pos,
            `link #${index + 1} refers to unknown node '${ep.node}'`,
            `nodes defined in topology.nodes: ${[...byName.keys()].join(', ') || '(none)'}`,
          ),
        );
        continue;
      }
      if (LINUX_IFNAME_KINDS.has(node.kind)) problems.check(() => checkIfname(ep, index));
      if (ep.mac !== undefined && !MAC_PATTERN.test(ep.mac)) {
        problems.add(
          errorAtPos(
            ep.pos,
            `mac ${JSON.stringify(ep.mac)} of endpoint '${ep.node}:${ep.iface}' in link #${index + 1} is not a MAC address`,
            'write six hex pairs separated by ":" or "-", e.g. 02:00:00:00:00:01, and nothing else',
          ),
        );
      }
      const key = `${ep.node}:${ep.iface}`;
      const earlier = used.get(key);
      if (earlier) {
        problems.add(
          errorAtPos(
            ep.pos,
            `endpoint '${key}' is used twice (first at line ${earlier.line}, column ${earlier.col})`,
            'each interface of a node can be the end of one link only; use another interface name',
          ),
        );
        continue;
      }
      used.set(key, ep.pos);
    }
    links.push(link);
  });
  return links;
}

function errorAtPos(pos: SourcePos, message: string, hint: string): UserError {
  return new UserError(`${message} (at ${pos.path})`, { where: `${pos.file}:${pos.line}:${pos.col}`, hint });
}

function checkIfname(ep: LinkEndpoint, index: number): void {
  const name = ep.iface;
  if (name.length > 15 || /[\s/:]/.test(name) || name === '.' || name === '..') {
    throw errorAtPos(
      ep.pos!,
      `interface name '${name}' of node '${ep.node}' in link #${index + 1} is not a valid Linux interface name`,
      'Linux interface names have 1 to 15 characters and no "/", ":" or spaces (e.g. eth1)',
    );
  }
}

const ENDPOINT_SHAPE = /^([^:\s]+):(\S+)$/;

function briefLink(
  source: TopologySource,
  raw: Raw,
  path: YamlPath,
  index: number,
  byName: Map<string, TopologyNode>,
): TopologyLink {
  const endpointsRaw = raw.endpoints;
  if (!Array.isArray(endpointsRaw) || endpointsRaw.length !== 2) {
    const count = Array.isArray(endpointsRaw) ? `${endpointsRaw.length} endpoint(s)` : 'no endpoint list';
    throw source.error(
      Array.isArray(endpointsRaw) ? [...path, 'endpoints'] : path,
      `link #${index + 1} must have exactly 2 endpoints, it has ${count}`,
      'write a link as endpoints: ["node1:eth1", "node2:eth1"]',
    );
  }
  const ipv4 = Array.isArray(raw.ipv4) ? raw.ipv4.map(String) : [];
  const ipv6 = Array.isArray(raw.ipv6) ? raw.ipv6.map(String) : [];
  const endpoints = endpointsRaw.map((value, i) => {
    const epPath = [...path, 'endpoints', i];
    const m = typeof value === 'string' ? ENDPOINT_SHAPE.exec(value) : null;
    if (!m) {
      throw source.error(
        epPath,
        `endpoint ${JSON.stringify(value)} of link #${index + 1} is not of the form "node:interface"`,
        'write each endpoint as "<node name>:<interface name>", e.g. "r1:eth1"',
      );
    }
    const ep: LinkEndpoint = {
      node: m[1]!,
      iface: m[2]!,
      mac: undefined,
      ipv4: ipv4[i] || undefined,
      ipv6: ipv6[i] || undefined,
      pos: source.pos(epPath),
    };
    return ep;
  }) as [LinkEndpoint, LinkEndpoint];

  // containerlab's brief form turns "host:x", "mgmt-net:x" and "macvlan:x" into link types.
  const specialIndex = endpoints.findIndex((ep) => SPECIAL_BRIEF_NODES.has(ep.node) && !byName.has(ep.node));
  let type = 'veth';
  let ordered = endpoints;
  if (specialIndex >= 0) {
    type = endpoints[specialIndex]!.node;
    ordered = specialIndex === 0 ? [endpoints[1], endpoints[0]] : endpoints;
  }
  return {
    type,
    endpoints: ordered,
    mtu: typeof raw.mtu === 'number' ? raw.mtu : undefined,
    ...extras(source, raw, path, ['endpoints', 'mtu', 'ipv4', 'ipv6']),
    pos: source.pos(path),
  };
}

function extendedVeth(source: TopologySource, raw: Raw, path: YamlPath, index: number): TopologyLink {
  const endpointsRaw = raw.endpoints;
  if (!Array.isArray(endpointsRaw) || endpointsRaw.length !== 2) {
    const count = Array.isArray(endpointsRaw) ? `${endpointsRaw.length} endpoint(s)` : 'no endpoint list';
    throw source.error(
      Array.isArray(endpointsRaw) ? [...path, 'endpoints'] : path,
      `veth link #${index + 1} must have exactly 2 endpoints, it has ${count}`,
      'write endpoints as a list of two {node: <name>, interface: <name>} mappings',
    );
  }
  const endpoints = endpointsRaw.map((value, i) =>
    endpointObject(source, value, [...path, 'endpoints', i], index),
  ) as [LinkEndpoint, LinkEndpoint];
  return {
    type: 'veth',
    endpoints,
    mtu: typeof raw.mtu === 'number' ? raw.mtu : undefined,
    ...extras(source, raw, path, ['type', 'endpoints', 'mtu']),
    pos: source.pos(path),
  };
}

/** host, mgmt-net, macvlan, vxlan, vxlan-stitch, dummy: one node endpoint plus a pseudo endpoint. */
function singleEndpointLink(
  source: TopologySource,
  raw: Raw,
  path: YamlPath,
  index: number,
  type: string,
): TopologyLink {
  if (!isRecord(raw.endpoint)) {
    throw source.error(
      path,
      `link #${index + 1} of type '${type}' needs an "endpoint" mapping with node and interface`,
      SCHEMA_HINT,
    );
  }
  const ep = endpointObject(source, raw.endpoint, [...path, 'endpoint'], index);
  const hostIface = typeof raw['host-interface'] === 'string' ? (raw['host-interface'] as string) : '';
  return {
    type,
    endpoints: [ep, { node: type, iface: hostIface, mac: undefined }],
    mtu: typeof raw.mtu === 'number' ? raw.mtu : undefined,
    ...extras(source, raw, path, ['type', 'endpoint', 'mtu', 'host-interface']),
    pos: source.pos(path),
  };
}

function endpointObject(source: TopologySource, value: unknown, path: YamlPath, index: number): LinkEndpoint {
  if (!isRecord(value) || typeof value.node !== 'string' || typeof value.interface !== 'string') {
    throw source.error(
      path,
      `endpoint of link #${index + 1} must be a mapping with "node" and "interface"`,
      'e.g. {node: r1, interface: eth1}',
    );
  }
  return {
    node: value.node,
    iface: value.interface,
    mac: typeof value.mac === 'string' ? value.mac : undefined,
    ipv4: typeof value.ipv4 === 'string' ? value.ipv4 : undefined,
    ipv6: typeof value.ipv6 === 'string' ? value.ipv6 : undefined,
    pos: source.pos([...path, 'node']),
  };
}

function extras(
  source: TopologySource,
  raw: Raw,
  path: YamlPath,
  modelled: readonly string[],
): { extra: Record<string, unknown>; extraPos: Record<string, SourcePos> } {
  const extra: Record<string, unknown> = {};
  const extraPos: Record<string, SourcePos> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (modelled.includes(k)) continue;
    extra[k] = v;
    extraPos[k] = source.pos([...path, k], { key: true });
  }
  return { extra, extraPos };
}

/** Container name of a node as containerlab names it (`clab-<lab>-<node>` by default). */
export function nodeLongName(topology: Topology, nodeName: string): string {
  return `${topology.longNamePrefix}${nodeName}`;
}

export { formatPath };
