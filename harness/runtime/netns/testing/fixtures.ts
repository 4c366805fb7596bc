/**
 * Test fixtures for the netns runtime: copies of lab files under unique names (prefix `otb`), and a
 * leftover check that looks everywhere a lab could leave something behind.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ipJson, netnsList } from '../../../kernel/netns.ts';
import { labNames } from '../names.ts';

export const REPO = resolve(import.meta.dirname, '../../../..');

let counter = 0;

/** This suite's lab-name prefix: `otb`, or $OTWIN_TEST_LAB_PREFIX (a developer sharing the machine). */
export const TEST_LAB_PREFIX = process.env.OTWIN_TEST_LAB_PREFIX || 'otb';

/** A unique lab name with this suite's prefix, the process id and a counter. */
export function uniqueLabName(tag: string): string {
  counter += 1;
  return `${TEST_LAB_PREFIX}-${process.pid.toString(36)}-${tag}${counter}`;
}

/** Copies labs/<file> (and the folder of the same stem) into a fresh temp dir under a new lab name. */
export function copyLab(file: string, labName: string): { file: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'otb-lab-'));
  const stem = file.replace(/\.clab\.ya?ml$/, '');
  if (existsSync(join(REPO, 'labs', stem)))
    cpSync(join(REPO, 'labs', stem), join(dir, stem), { recursive: true });
  const text = readFileSync(join(REPO, 'labs', file), 'utf8').replace(/^name: .*$/m, `name: ${labName}`);
  const target = join(dir, file);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  return { file: target, dir };
}

export function writeLab(text: string): { file: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'otb-lab-'));
  const file = join(dir, 'lab.clab.yml');
  writeFileSync(file, text);
  return { file, dir };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Everything of a lab still present on the machine; empty when destroy left nothing. */
export async function leftovers(
  lab: { name: string; labDir: string },
  extraPaths: string[] = [],
): Promise<string[]> {
  const names = labNames(lab);
  const found: string[] = [];
  for (const ns of await netnsList()) if (ns.startsWith(names.nsPrefix)) found.push(`netns ${ns}`);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes(names.nsPrefix) || line.includes(lab.labDir)) found.push(`mount ${line}`);
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (
        cmdline.includes(names.markerPrefix) ||
        cmdline.includes(names.nsPrefix) ||
        cmdline.includes(`${lab.labDir}/`)
      ) {
        found.push(`process ${entry}: ${cmdline.slice(0, 120)}`);
      }
    } catch {
      // gone
    }
  }
  // veths are only ever created inside the lab's namespaces; none may show up in the host's.
  const hostVeths = await ipJson<Array<{ ifname: string; link_netnsid?: number }>>(undefined, [
    'link',
    'show',
    'type',
    'veth',
  ]);
  for (const link of hostVeths)
    if (link.ifname.startsWith(names.nsPrefix)) found.push(`host veth ${link.ifname}`);
  if (existsSync(names.registryFile)) found.push(`registry ${names.registryFile}`);
  if (existsSync(join(lab.labDir, 'state.json'))) found.push(`state ${lab.labDir}/state.json`);
  for (const path of extraPaths) if (existsSync(path)) found.push(`file ${path}`);
  return found;
}
