// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} here is containerlab's syntax under test, not a JS template
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../util/errors.ts';
import { expandEnv } from './envsubst.ts';
import { findUnsupported, loadTopology, rejectUnsupported } from './load.ts';
import { clabSchemaAvailable, clabSchemaPath } from './schema.ts';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures');
const repo = join(here, '..', '..');
const schemaAbsent = !clabSchemaAvailable();
const schemaSkip = schemaAbsent ? ` (skipped: containerlab schema absent at ${clabSchemaPath()})` : '';

const scratch = mkdtempSync(join(tmpdir(), `ota-topo-${process.pid.toString(36)}-`));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Writes a topology into the scratch folder and returns its path. */
function topo(name: string, text: string): string {
  const file = join(scratch, `${name}.clab.yml`);
  writeFileSync(file, text);
  return file;
}

async function loadError(file: string, env?: Record<string, string>): Promise<UserError> {
  try {
    await loadTopology(file, env ? { env } : {});
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
  throw new Error(`${file} loaded without error`);
}

/** The file as the loader shows it: relative to the working directory when inside it. */
const rel = (file: string): string => {
  const r = relative(process.cwd(), file);
  return r.startsWith('..') ? file : r;
};

describe('loadTopology: inheritance defaults → kinds → groups → node', async () => {
  const t = await loadTopology(join(fixtures, 'inherit', 'inherit.clab.yml'), { env: {} });
  const node = (name: string) => t.nodes.find((n) => n.name === name)!;

  it('takes scalars from the most specific level', () => {
    expect(node('r1').kind).toBe('linux'); // defaults
    expect(node('r1').image).toBe('quay.io/frrouting/frr:8.4.1'); // group beats kind
    expect(node('h1').image).toBe('alpine:3'); // kind, with ${OTA_IMAGE:=alpine:3}
    expect(node('br0').kind).toBe('bridge'); // node beats defaults
    expect(node('h1').cmd).toBe('sleep infinity');
    expect(node('r1').group).toBe('routers');
  });

  it('merges env and labels, the more specific level winning per key', () => {
    expect(node('r1').env).toEqual({ LEVEL: 'node', FROM_DEFAULTS: '1', FROM_KIND: '1' });
    expect(node('h1').env).toEqual({ LEVEL: 'kind', FROM_DEFAULTS: '1', FROM_KIND: '1' });
    expect(node('r1').labels).toEqual({ tier: 'router' });
    expect(node('br0').labels).toEqual({ tier: 'default' });
  });

  it('concatenates exec lines defaults, kind, group, node', () => {
    expect(node('r1').exec).toEqual([
      'echo defaults',
      'echo kind',
      'echo group',
      'ip addr add 192.0.2.1/24 dev eth1',
    ]);
    expect(node('br0').exec).toEqual(['echo defaults']);
  });

  it('merges binds by target, resolved relative to the topology folder, with :ro', () => {
    expect(node('r1').binds.map((b) => [b.source, b.target, b.readOnly])).toEqual([
      [join(fixtures, 'inherit', 'daemons'), '/etc/frr/daemons', true],
      [join(fixtures, 'inherit', 'r1', 'frr.conf'), '/etc/frr/frr.conf', false],
    ]);
    expect(node('r1').binds[1]!.pos).toMatchObject({ line: 42, col: 11, path: 'topology.nodes.r1.binds[0]' });
  });

  it('keeps mgmt-ipv4, the mgmt block, prefix and the lab directory', () => {
    expect(node('r1').mgmtIPv4).toBe('198.51.100.11');
    expect(node('h1').mgmtIPv4).toBeUndefined();
    expect(t.mgmt).toMatchObject({
      network: 'ota-mgmt',
      ipv4Subnet: '198.51.100.0/24',
      ipv4SubnetFromFile: true,
    });
    expect(t.prefix).toBe('__lab-name');
    expect(node('r1').longName).toBe('ota-inherit-r1');
    expect(t.labDir).toBe(join(fixtures, 'inherit', 'clab-ota-inherit'));
  });

  it('keeps fields it does not model in extra with their position', () => {
    expect(node('h1').extra).toEqual({ ports: ['8080:80'] });
    expect(node('h1').extraPos.ports).toMatchObject({ line: 48, col: 7 });
  });

  it('resolves brief, extended and host links', () => {
    expect(t.links.map((l) => [l.type, l.endpoints.map((e) => `${e.node}:${e.iface}`), l.mtu])).toEqual([
      ['veth', ['r1:eth1', 'h1:eth1'], 9000],
      ['veth', ['r1:eth2', 'br0:p1'], undefined],
      ['host', ['h1:eth2', 'host:ota-h1'], undefined],
    ]);
    expect(t.links[1]!.endpoints[0].mac).toBe('02:00:00:00:00:02');
  });
});

describe('loadTopology: variables, prefix, mgmt defaults', () => {
  it('expands ${VAR:=default} from the given environment before parsing', async () => {
    const t = await loadTopology(join(fixtures, 'inherit', 'inherit.clab.yml'), {
      env: { OTA_IMAGE: 'debian:12' },
    });
    expect(t.nodes.find((n) => n.name === 'h1')!.image).toBe('debian:12');
  });

  it('applies containerlab prefix rules', async () => {
    const body = 'topology:\n  nodes:\n    n1:\n      kind: linux\n';
    expect((await loadTopology(topo('p1', `name: lab1\n${body}`))).nodes[0]!.longName).toBe('clab-lab1-n1');
    expect((await loadTopology(topo('p2', `name: lab1\nprefix: ""\n${body}`))).nodes[0]!.longName).toBe('n1');
    expect((await loadTopology(topo('p3', `name: lab1\nprefix: acme\n${body}`))).nodes[0]!.longName).toBe(
      'acme-lab1-n1',
    );
    const t = await loadTopology(topo('p4', `name: lab1\n${body}`));
    expect(t.prefix).toBe('clab');
    expect(t.mgmt).toMatchObject({
      network: 'clab',
      ipv4Subnet: '172.20.20.0/24',
      ipv4SubnetFromFile: false,
    });
  });

  it('expands like containerlab: unset $VAR stays, $$ escapes, defaults nest', () => {
    const env = { SET: 'v', EMPTY: '' };
    expect(expandEnv('a $SET ${SET} $UNSET ${UNSET} $$SET', env).text).toBe('a v v $UNSET ${UNSET} $SET');
    expect(expandEnv('${EMPTY:=d} ${EMPTY=d} ${UNSET-x$SET} ${SET:+alt} ${UNSET:+alt}.', env).text).toBe(
      'd  xv alt .',
    );
    expect(expandEnv('echo $1 $_ ${1}', env).text).toBe('echo $1 $_ ${1}');
  });

  it('maps positions after expansion back to the file as written', async () => {
    const file = topo(
      'pos',
      'name: ${OTA_NAME:=a-long-lab-name}\ntopology:\n  nodes:\n    n1:\n      kind: linux\n  links:\n    - endpoints: ["${OTA_N:=n1}:eth1", "zz:eth1"]\n',
    );
    const err = await loadError(file, {});
    expect(err.where).toBe(`${rel(file)}:7:40`);
  });
});

describe('loadTopology: every bad input is a UserError with file:line:col and a hint', () => {
  const bad = (name: string) => join(fixtures, 'bad', `${name}.clab.yml`);
  const cases: Array<[string, string, RegExp]> = [
    ['yaml-syntax', '6:1', /YAML syntax error/],
    ['unknown-node', '9:30', /link #1 refers to unknown node 'h3'/],
    ['duplicate-endpoint', '12:19', /endpoint 'h1:eth1' is used twice \(first at line 11, column 19\)/],
    ['missing-bind', '8:11', /bind source 'r1\/frr.conf' does not exist/],
    ['go-template', '4:1', /Go templates/],
    ['three-endpoints', '9:18', /exactly 2 endpoints, it has 3/],
    ['endpoint-shape', '9:19', /not of the form "node:interface"/],
    ['no-kind', '4:5', /node 'h1' has no kind/],
  ];
  for (const [name, lineCol, message] of cases) {
    it(name, async () => {
      const err = await loadError(bad(name));
      expect(err.where).toBe(`${rel(bad(name))}:${lineCol}`);
      expect(err.message).toMatch(message);
      expect(err.hint).toBeTruthy();
      expect(err.exitCode).toBe(2);
      expect(err.describe().split('\n')).toHaveLength(2);
    });
  }

  it.skipIf(schemaAbsent)(`schema violation: unknown field, with a suggestion${schemaSkip}`, async () => {
    const err = await loadError(bad('schema-violation'));
    expect(err.where).toBe(`${rel(bad('schema-violation'))}:6:7`);
    expect(err.message).toMatch(/unknown field 'imagee' in node 'h1' \(did you mean 'image'\?\)/);
    expect(err.message).toMatch(/topology\.nodes\.h1\.imagee/);
  });

  it.skipIf(schemaAbsent)(`schema violation: kind not in containerlab's list${schemaSkip}`, async () => {
    const err = await loadError(bad('schema-kind'));
    expect(err.where).toBe(`${rel(bad('schema-kind'))}:5:13`);
    expect(err.message).toMatch(
      /kind 'linuxx' in node 'h1' is not one containerlab accepts; did you mean 'linux'\?/,
    );
  });

  it.skipIf(schemaAbsent)(`schema violation inside an extended link${schemaSkip}`, async () => {
    const file = topo(
      'badlink',
      'name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n    b: {kind: linux}\n  links:\n    - type: veth\n      endpoints:\n        - {node: a, interface: eth1}\n        - {node: b, interface: eth1, colour: red}\n',
    );
    const err = await loadError(file);
    expect(err.message).toMatch(/unknown field 'colour' in link #1/);
    expect(err.where).toBe(`${rel(file)}:10:38`);
  });

  it('a missing file is a UserError', async () => {
    const err = await loadError(join(scratch, 'nope.clab.yml'));
    expect(err.message).toMatch(/does not exist/);
  });

  it('unsupported fields are named with the node and position by rejectUnsupported', async () => {
    const t = await loadTopology(bad('unsupported-field'));
    expect(findUnsupported(t, ['sysctls']).map((u) => [u.field, u.node])).toEqual([['entrypoint', 'h1']]);
    let err: unknown;
    try {
      rejectUnsupported(t, { runtime: 'netns', nodeFields: [], kinds: ['linux', 'bridge'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).where).toBe(`${rel(bad('unsupported-field'))}:7:7`);
    expect((err as UserError).message).toMatch(
      /field 'entrypoint' of node 'h1' is not supported by the netns runtime/,
    );
    expect(() => rejectUnsupported(t, ['entrypoint'])).not.toThrow();
  });

  it('rejectUnsupported refuses kinds and link types the runtime cannot build', async () => {
    const t = await loadTopology(join(fixtures, 'inherit', 'inherit.clab.yml'), { env: {} });
    const problems = findUnsupported(t, { kinds: ['linux'], nodeFields: ['ports'] });
    expect(problems.map((p) => `${p.field}@${p.node}`)).toEqual(['kind@br0', 'type@h1']);
  });
});

describe('schema validation can be absent', () => {
  it('loads with a warning when the schema file is missing', async () => {
    const saved = process.env.OTWIN_CLAB_SCHEMA;
    process.env.OTWIN_CLAB_SCHEMA = join(scratch, 'no-schema.json');
    try {
      const t = await loadTopology(join(fixtures, 'inherit', 'inherit.clab.yml'), { env: {} });
      expect(t.warnings.join('\n')).toMatch(/schema validation skipped/);
    } finally {
      if (saved === undefined) delete process.env.OTWIN_CLAB_SCHEMA;
      else process.env.OTWIN_CLAB_SCHEMA = saved;
    }
  });
});

// Every lab the project ships must be a valid containerlab topology (and load in full).
const labsDir = join(repo, 'labs');
const labFiles = (existsSync(labsDir) ? readdirSync(labsDir, { recursive: true, encoding: 'utf8' }) : [])
  .filter((f) => /\.clab\.ya?ml$/.test(f))
  .map((f) => join(labsDir, f));

describe.skipIf(schemaAbsent)(`labs/*.clab.yml validate against containerlab's schema${schemaSkip}`, () => {
  it.skipIf(labFiles.length === 0)('labs/ has topology files (skipped: labs/ has none yet)', () => {
    expect(labFiles.length).toBeGreaterThan(0);
  });
  for (const file of labFiles) {
    it(relative(repo, file), async () => {
      const t = await loadTopology(file);
      expect(t.warnings).toEqual([]);
      expect(t.nodes.length).toBeGreaterThan(0);
    });
  }
});
