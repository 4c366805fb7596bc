/** `otwin run` rejects invalid scenarios before anything runs: exit 2, file:line:column, a hint, no stack trace. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { netnsList } from '../kernel/netns.ts';

describe('otwin run validation', () => {
  it('exits 2 with every problem as file:line:column and a hint, and deploys nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ote-cli-'));
    const file = join(dir, 'bad.yml');
    writeFileSync(
      file,
      `name: bad
lab: ${resolve('labs/frr-evpn.clab.yml')}
intent:
  tenants: [{ name: t }]
  domains: [{ name: d, tenant: t }]
  subnets: [{ name: s, domain: d, cidr: 192.0.2.0/24, vni: 100 }]
  vms:
    - { name: h1, subnet: s, hypervisor: leaf9, ip: 192.0.2.11 }
timeline:
  - provision: all
  - fault: { kind: link-down, link: leaf1:eth1, duraton: 1s }
`,
    );
    const before = (await netnsList()).filter((n) => n.includes('ote-evpn'));
    const otwin = (f: string) =>
      execa(process.execPath, [resolve('bin/otwin.js'), 'run', f], { reject: false, all: true });
    // Shape first: an unknown key, at the key, with the closest known key.
    const r = await otwin(file);
    expect(r.exitCode).toBe(2);
    expect(r.all).toContain(`${file}:11:49: unknown key 'duraton'`);
    expect(r.all).toContain("hint: did you mean 'duration'?");
    expect(r.all).not.toMatch(/\n\s+at .*\.ts:\d+/);
    // Then references: an unknown lab node, at its value.
    const { readFileSync } = await import('node:fs');
    writeFileSync(file, readFileSync(file, 'utf8').replace('duraton', 'duration'));
    const r2 = await otwin(file);
    expect(r2.exitCode).toBe(2);
    expect(r2.all).toContain(`${file}:8:42: unknown lab node 'leaf9'`);
    expect(r2.all).toMatch(/hint: did you mean 'leaf1'\?/);
    expect((await netnsList()).filter((n) => n.includes('ote-evpn'))).toEqual(before);
  });
});
