/**
 * Check and fault kinds are one file each plus one registry line: the editor schema is generated
 * from the registry and must match it, an unknown kind is refused with the registered ones listed,
 * and no other file under harness/ spells out a fault kind.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECK_KINDS } from './checks/index.ts';
import { FAULT_KINDS } from './faults/index.ts';
import { scenarioErrorOf } from './fixtures/scenario-errors.ts';
import { buildScenarioSchema } from './scenario-schema.ts';
import { SCHEMA_FILE } from './schema.ts';

const FILE = resolve('scenarios/test-fixture.yml');
const scenario = (steps: string) => `name: kinds
lab: ${resolve('labs/frr-evpn.clab.yml')}
intent:
  tenants: [{ name: acme }]
  domains: [{ name: d, tenant: acme }]
  subnets: [{ name: s, domain: d, cidr: 192.0.2.0/24, vni: 100 }]
  vms:
    - { name: h1, subnet: s, hypervisor: leaf1, ip: 192.0.2.11 }
    - { name: h2, subnet: s, hypervisor: leaf2, ip: 192.0.2.12 }
timeline:
${steps}`;

describe('check and fault kinds', () => {
  it('the committed editor schema is the one generated from the registered kinds (else: npm run gen:schema)', () => {
    const committed = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as unknown;
    // Key order too: the file is what the generator writes.
    expect(JSON.stringify(committed)).toBe(JSON.stringify(buildScenarioSchema()));
  });

  it('refuses an unknown fault kind at file:line:col, listing the registered kinds with the closest one', () => {
    const err = scenarioErrorOf(scenario('  - fault: { kind: packet-lost, link: leaf1:eth1 }\n'), FILE);
    const issue = err.issues[0]!;
    expect(issue.where).toBe(`${FILE}:11:20`);
    expect(issue.message).toBe('"packet-lost" is not allowed here');
    expect(issue.hint).toMatch(/^did you mean "packet-loss"\? allowed: /);
    for (const d of FAULT_KINDS) expect(issue.hint).toContain(`"${d.kind}"`);
  });

  it('refuses an unknown check kind, listing the registered kinds with the closest one', () => {
    const err = scenarioErrorOf(scenario('  - expect: { rech: { from: h1, to: h2 } }\n'), FILE);
    const issue = err.issues[0]!;
    expect(issue.message).toBe("unknown key 'rech'");
    expect(issue.hint).toMatch(/^did you mean 'reach'\?/);
    for (const d of CHECK_KINDS) expect(issue.hint).toContain(d.kind);
  });

  it('names a fault kind only in its own file and the registry (tests and the generated schema aside)', () => {
    for (const kind of ['packet-loss', 'bgp-announce']) {
      const files = execFileSync('git', ['grep', '-l', '-e', kind, '--', 'harness/'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .filter((f) => !f.endsWith('.test.ts') && f !== 'harness/scenario/scenario.schema.json');
      expect(files.sort()).toEqual(
        ['harness/scenario/faults/index.ts', `harness/scenario/faults/${kind}.ts`].sort(),
      );
    }
  });
});
