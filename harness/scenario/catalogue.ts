/**
 * The conformance catalogue's IDs with their group and row texts, from the project's own copy
 * (catalogue.json, regenerated from the catalogue's Markdown by scripts/vendor-catalogue.mjs), plus
 * the Allure epic (area) each ID prefix maps to.
 */
import { readFileSync } from 'node:fs';

export interface CatalogueEntry {
  id: string;
  /** Allure epic. */
  area: string;
  /** Allure feature: the catalogue group heading. */
  group: string;
  stimulus: string;
  observable: string;
  pass: string;
}

export const AREAS: Record<string, string> = {
  VX: 'data plane',
  L2: 'data plane',
  L3: 'data plane',
  ARP: 'data plane',
  EVPN: 'control plane',
  SG: 'services',
  NAT: 'services',
  SVC: 'services',
  AZ: 'resilience',
  GW: 'gateways',
  FED: 'federation',
  SCALE: 'scale',
};

export const CATALOGUE_FILE = new URL('./catalogue.json', import.meta.url);

type VendoredRow = Omit<CatalogueEntry, 'area'>;

const vendored = JSON.parse(readFileSync(CATALOGUE_FILE, 'utf8')) as { entries: VendoredRow[] };

/** Every catalogue ID, in catalogue order. */
export const CATALOGUE: ReadonlyMap<string, CatalogueEntry> = new Map(
  vendored.entries.map((row) => [row.id, { ...row, area: AREAS[row.id.split('-')[0]!] ?? 'other' }]),
);

export function catalogueEntry(id: string): CatalogueEntry | undefined {
  return CATALOGUE.get(id);
}
