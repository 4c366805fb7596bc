import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import AjvModule from 'ajv';
import { describe, expect, it } from 'vitest';
import { UserError } from '../util/errors.ts';
import type { Capability } from './drivers/driver.ts';
import { scenarioErrorOf } from './fixtures/scenario-errors.ts';
import { loadScenario, parseScenarioText } from './parse.ts';
import { scenarioSchema } from './schema.ts';

const LAB = resolve('labs/frr-evpn.clab.yml');
const FILE = resolve('scenarios/test-fixture.yml');

/** A valid scenario; tests replace one line to break it and check where the error points. */
const BASE = `name: fixture
conformance: [L2-1]
lab: ${LAB}
intent:
  tenants:
    - name: acme
  domains:
    - name: acme-l2
      tenant: acme
  subnets:
    - name: vni100
      domain: acme-l2
      cidr: 192.0.2.0/24
      vni: 100
  groups:
    - name: web
  vms:
    - name: h1
      subnet: vni100
      hypervisor: leaf1
      ip: 192.0.2.11
      groups: [web]
    - name: h2
      subnet: vni100
      hypervisor: leaf2
      ip: 192.0.2.12
timeline:
  - provision: all
  - expect:
      matrix:
        probes: [icmp]
  - fault:
      kind: link-down
      link: leaf1:eth1
      duration: 2s
`;

const errorOf = (text: string) => scenarioErrorOf(text, FILE);

function replaceLine(text: string, lineNo: number, replacement: string): string {
  const lines = text.split('\n');
  lines[lineNo - 1] = replacement;
  return lines.join('\n');
}

/** Line number (1-based) of the first line containing `needle`. */
function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((l) => l.includes(needle)) + 1;
}

describe('scenario validation', () => {
  it('accepts the base fixture and builds the typed model', () => {
    const s = parseScenarioText(BASE, FILE);
    expect(s.name).toBe('fixture');
    expect(s.lab).toBe(LAB);
    expect(s.timeline.map((t) => t.kind)).toEqual(['provision', 'expect', 'fault']);
    const fault = s.timeline[2]!;
    expect(fault.kind === 'fault' && fault.fault).toEqual({
      kind: 'link-down',
      link: { node: 'leaf1', iface: 'eth1' },
      durationMs: 2000,
    });
    expect(s.intent.vms[0]).toMatchObject({ name: 'h1', iface: 'eth1', attached: true });
    expect(s.timeline[1]!.pos.line).toBe(lineOf(BASE, '- expect:'));
  });

  it('reports a YAML syntax error with its position', () => {
    const line = lineOf(BASE, 'probes: [icmp]');
    const err = errorOf(replaceLine(BASE, line, '        probes: [icmp'));
    expect(err.issues[0]!.message).toMatch(/YAML syntax error/);
    // Reported where the parser notices: the unclosed line or the one after it.
    expect([line, line + 1]).toContain(err.issues[0]!.line);
    expect(err.issues[0]!.where).toBe(`${FILE}:${err.issues[0]!.line}:${err.issues[0]!.col}`);
  });

  it('reports an unknown key at the key, with the closest known key as a hint', () => {
    const line = lineOf(BASE, '      hypervisor: leaf2');
    const err = errorOf(replaceLine(BASE, line, '      hypervisr: leaf2'));
    const issue = err.issues.find((i) => /unknown key 'hypervisr'/.test(i.message))!;
    expect(issue.where).toBe(`${FILE}:${line}:7`);
    expect(issue.hint).toMatch(/did you mean 'hypervisor'/);
    // The required key is now missing too: reported at the VM's mapping.
    expect(err.issues.some((i) => /missing required key 'hypervisor'/.test(i.message))).toBe(true);
  });

  it('reports a wrong type at the value', () => {
    const line = lineOf(BASE, 'vni: 100');
    const err = errorOf(replaceLine(BASE, line, '      vni: hundred'));
    expect(err.issues[0]!.message).toMatch(/expected an integer, got "hundred"/);
    expect(err.issues[0]!.where).toBe(`${FILE}:${line}:12`);
  });

  it('reports a bad enum value and a bad duration with allowed forms', () => {
    const kindLine = lineOf(BASE, 'kind: link-down');
    const e1 = errorOf(replaceLine(BASE, kindLine, '      kind: link-dwn'));
    expect(e1.issues[0]!.where).toBe(`${FILE}:${kindLine}:13`);
    expect(e1.issues[0]!.hint).toMatch(/did you mean "link-down"/);
    const durLine = lineOf(BASE, 'duration: 2s');
    const e2 = errorOf(replaceLine(BASE, durLine, '      duration: 2 seconds'));
    expect(e2.issues[0]!.where).toBe(`${FILE}:${durLine}:17`);
    expect(e2.issues[0]!.message).toMatch(/"2 seconds"/);
    expect(e2.issues[0]!.hint).toMatch(/duration: `500ms`, `2s`/);
  });

  it('reports references to unknown lab nodes, interfaces, VMs, groups and subnets', () => {
    const cases: Array<[string, string, RegExp, RegExp?]> = [
      [
        'hypervisor: leaf2',
        '      hypervisor: leaf9',
        /unknown lab node 'leaf9'/,
        /did you mean 'leaf1'|leaf/,
      ],
      [
        'link: leaf1:eth1',
        '      link: leaf1:eth7',
        /node 'leaf1' has no link interface 'eth7'/,
        /eth1, eth2/,
      ],
      ['groups: [web]', '      groups: [wbe]', /unknown security group 'wbe'/, /did you mean 'web'/],
      ['subnet: vni100', '      subnet: vni101', /unknown subnet 'vni101'/, /did you mean 'vni100'/],
      ['tenant: acme', '      tenant: acne', /unknown tenant 'acne'/],
      ['conformance: [L2-1]', 'conformance: [L2-99]', /unknown conformance ID 'L2-99'/],
    ];
    for (const [needle, replacement, message, hint] of cases) {
      const line = lineOf(BASE, needle);
      const err = errorOf(replaceLine(BASE, line, replacement));
      const issue = err.issues.find((i) => message.test(i.message));
      expect(issue, `${needle} → ${replacement}: ${err.describe()}`).toBeDefined();
      expect(issue!.line).toBe(line);
      if (hint) expect(issue!.hint).toMatch(hint);
    }
    // Unknown VM in a timeline step.
    const withAttach = `${BASE}  - provision:\n      attach: [h7]\n`;
    const err = errorOf(withAttach);
    expect(err.issues[0]!.message).toBe("unknown VM 'h7'");
    expect(err.issues[0]!.line).toBe(lineOf(withAttach, 'attach: [h7]'));
    expect(err.issues[0]!.col).toBe(16);
  });

  it('checks zone controllers against the lab only for an implementation that has them', () => {
    const zoned = BASE.replace(
      'intent:\n',
      'intent:\n  zones:\n    - { name: z1, hypervisors: [leaf1, leaf9], controllers: [c1] }\n',
    );
    const issues = errorOf(zoned).issues.map((i) => [i.message, i.line]);
    expect(issues).toEqual([
      ["unknown lab node 'leaf9'", lineOf(zoned, 'z1')],
      ["unknown lab node 'c1'", lineOf(zoned, 'z1')],
    ]);
    // A driver without the `zones` capability places no controllers: only the hypervisors must exist.
    const capabilitiesOf = (name: string) => (name === 'frr-evpn' ? new Set<Capability>(['l2']) : undefined);
    const without = scenarioErrorOf(zoned, FILE, { capabilitiesOf }).issues.map((i) => i.message);
    expect(without).toEqual(["unknown lab node 'leaf9'"]);
    const placed = zoned.replace('leaf9', 'leaf2');
    expect(() => parseScenarioText(placed, FILE, { capabilitiesOf })).not.toThrow();
    expect(errorOf(placed).issues.map((i) => i.message)).toEqual(["unknown lab node 'c1'"]);
    // The CLI's --implementation decides whose capabilities count.
    expect(() => parseScenarioText(placed, FILE, { implementation: 'other', capabilitiesOf })).toThrow(
      /unknown lab node 'c1'/,
    );
  });

  it('reports semantic errors: address outside its subnet, duplicate names, two step kinds in one step', () => {
    const ipLine = lineOf(BASE, 'ip: 192.0.2.12');
    expect(errorOf(replaceLine(BASE, ipLine, '      ip: 198.51.100.12')).issues[0]!.message).toMatch(
      /outside subnet 'vni100'/,
    );
    const dupLine = lineOf(BASE, '- name: h2');
    expect(
      errorOf(replaceLine(BASE, dupLine, '    - name: h1')).issues.some((i) =>
        /duplicate VM name 'h1'/.test(i.message),
      ),
    ).toBe(true);
    const two = BASE.replace('  - provision: all', '  - provision: all\n    wait: 1s');
    const issue = errorOf(two).issues[0]!;
    expect(issue.message).toMatch(/exactly one of/);
    expect(issue.line).toBe(lineOf(two, 'wait: 1s'));
    const faultLine = lineOf(BASE, 'duration: 2s');
    const wrongField = replaceLine(BASE, faultLine, '      percent: 20');
    expect(errorOf(wrongField).issues[0]!.message).toMatch(/fault 'link-down' does not take 'percent'/);
  });

  it('reports a missing lab file at the lab key and a missing scenario file without a position', () => {
    const err = errorOf(BASE.replace(`lab: ${LAB}`, 'lab: nowhere.clab.yml'));
    expect(err.issues[0]!.message).toMatch(/lab file not found/);
    expect(err.issues[0]!.line).toBe(3);
    expect(() => loadScenario('/nonexistent/x.yml')).toThrow(UserError);
  });

  it('lists every problem at once, sorted by position, as one paragraph per problem', () => {
    const broken = BASE.replace('hypervisor: leaf1', 'hypervisor: nope').replace(
      'groups: [web]',
      'groups: [nope]',
    );
    const err = errorOf(broken);
    expect(err.issues).toHaveLength(2);
    expect(err.issues[0]!.line).toBeLessThan(err.issues[1]!.line);
    expect(err.describe()).toMatch(/2 problems; nothing was run/);
    expect(err.exitCode).toBe(2);
  });

  it('loads a scenario from disk and resolves the lab relative to the scenario file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ote-scn-'));
    const file = join(dir, 's.yml');
    writeFileSync(file, BASE.replace(`lab: ${LAB}`, 'lab: frr-evpn.clab.yml'));
    expect(() => loadScenario(file)).toThrow(/lab file not found/);
    writeFileSync(file, BASE.replace(`lab: ${LAB}`, `lab: ${relative(dir, LAB)}`));
    const s = loadScenario(file);
    expect(s.file).toBe(file);
    expect(s.lab).toBe(LAB);
  });

  it('ships a schema that ajv compiles (editors use it for completion)', () => {
    const ajv = new AjvModule.default({ strict: false, allErrors: true });
    const validate = ajv.compile(scenarioSchema());
    expect(validate({ name: 'x', lab: 'l.yml', timeline: [{ wait: '1s' }] })).toBe(true);
    expect(validate({ name: 'x', lab: 'l.yml', timeline: [{ wiat: '1s' }] })).toBe(false);
  });
});

describe('validation of what a check can prove', () => {
  const withTimeline = (steps: string) => `${BASE.slice(0, BASE.indexOf('timeline:'))}timeline:\n${steps}`;

  it('refuses a within a check cannot meet by construction, at the within, with file:line:col', () => {
    const text = withTimeline(
      '  - provision: all\n  - expect:\n      within: 300ms\n      matrix: { probes: [icmp] }\n',
    );
    const issue = errorOf(text).issues[0]!;
    expect(issue.message).toMatch(/'within: 300ms' cannot be met: a matrix check takes at least 500 ms/);
    const line = text.split('\n').findIndex((l) => l.includes('within: 300ms')) + 1;
    expect(issue.where).toBe(`${FILE}:${line}:15`);
    const capture = withTimeline(
      '  - expect:\n      within: 1s\n      capture:\n        send: { from: h1, type: arp, dst: 192.0.2.12 }\n        duration: 2s\n        points: [{ node: h2, iface: eth1, count: 1 }]\n',
    );
    expect(errorOf(capture).issues[0]!.message).toMatch(/a capture check takes at least 2000 ms/);
  });

  it('refuses a capture point without a count bound, and a BGP vm match on a VM without a MAC', () => {
    const capture = withTimeline(
      '  - expect:\n      capture:\n        send: { from: h1, type: arp, dst: 192.0.2.12 }\n        points: [{ node: h2, iface: eth1 }]\n',
    );
    expect(errorOf(capture).issues[0]!.message).toMatch(/capture point needs a bound on its packet count/);
    const bgp = withTimeline(
      '  - expect:\n      bgp: { node: rr, routes: [{ type: 2, present: false, match: { vm: h1 } }] }\n',
    );
    expect(errorOf(bgp).issues[0]!.message).toMatch(/VM 'h1' has no 'mac:' .* would match every route/);
  });

  it('refuses forwarding expectations that name nothing to look for, an unknown subnet or VTEP, or a flood list without a segment', () => {
    const check = (body: string) =>
      errorOf(withTimeline(`  - expect:\n      forwarding: ${body}\n`)).issues.map(
        (i) => `${i.where} ${i.message}`,
      );
    expect(check('{ node: leaf1, absent: [{}] }')).toEqual([
      expect.stringMatching(/:\d+:\d+ an entry needs a vm, a mac or a vtep: an empty one matches everything/),
    ]);
    expect(check('{ node: leaf1, present: [{ vm: h1 }] }')).toEqual([
      expect.stringMatching(/VM 'h1' has no 'mac:' in the intent, so there is no MAC to look for/),
    ]);
    expect(check('{ node: leaf1, segment: vni200, flood: [leaf9] }').join('\n')).toMatch(
      /unknown subnet 'vni200'[\s\S]*unknown lab node 'leaf9'/,
    );
    expect(check('{ node: leaf1, flood: [leaf2] }')).toEqual([
      expect.stringMatching(/'flood' needs 'segment': a flood list belongs to one segment/),
    ]);
    expect(
      check('{ node: leaf1, absent: [{ mac: "02:00:00:00:00:99", vtep: 10.0.99.2, once: true }] }'),
    ).toEqual([expect.stringMatching(/'once' applies to present entries/)]);
    const ok = parseScenarioText(
      withTimeline(
        '  - expect:\n      forwarding: { node: leaf1, segment: vni100, flood: [leaf2, 10.0.9.9] }\n',
      ),
      FILE,
    );
    expect(ok.timeline[0]).toMatchObject({
      checks: [{ kind: 'forwarding', node: 'leaf1', segment: 'vni100', flood: ['leaf2', '10.0.9.9'] }],
    });
  });

  it('refuses precondition on a step that is not an expectation', () => {
    const text = withTimeline('  - precondition: true\n    wait: 1s\n');
    expect(errorOf(text).issues[0]!.message).toMatch(/'precondition' applies to expect and wait-until steps/);
  });

  it('takes maxLossBeyondFaults only without maxLossWindow and with a timed fault inside the measure', () => {
    const measure = (bounds: string, during: string) =>
      withTimeline(
        `  - provision: all\n  - measure:\n      stream: { from: h1, to: h2 }\n${bounds}      during:\n${during}`,
      );
    const timed = '        - fault: { kind: link-down, link: leaf1:eth1, duration: 2s }\n';
    expect(() => parseScenarioText(measure('      maxLossBeyondFaults: 1s\n', timed), FILE)).not.toThrow();
    const both = measure('      maxLossWindow: 3s\n      maxLossBeyondFaults: 1s\n', timed);
    const e1 = errorOf(both).issues[0]!;
    expect(e1.message).toMatch(/maxLossWindow or maxLossBeyondFaults, not both/);
    expect(e1.line).toBe(lineOf(both, 'maxLossBeyondFaults'));
    const untimed = measure('      maxLossBeyondFaults: 1s\n', '        - wait: 1s\n');
    const e2 = errorOf(untimed).issues[0]!;
    expect(e2.message).toMatch(/has no fault with a duration/);
    expect(e2.hint).toMatch(/add a `fault:` with `duration:`/);
  });
});
