export interface CatalogueRow {
  id: string;
  group: string;
  stimulus: string;
  observable: string;
  pass: string;
}
export const VENDORED: string;
export function parseCatalogue(markdown: string): CatalogueRow[];
export function renderCatalogue(entries: CatalogueRow[], sourceName: string): string;
