/** The model `otwin compare` builds from its inputs: columns of per-catalogue-ID cells. */
import type { VerdictFigures } from '../scenario/record.ts';

export type CellStatus = 'passed' | 'failed' | 'broken' | 'skipped' | 'not covered';

export interface Cell {
  status: CellStatus;
  /** How many results (expectations) carry the ID in this column. */
  results: number;
  /** The worst figures among those results (longest time, widest loss window, highest p95). */
  figures: VerdictFigures;
  /** Why it failed, broke or was skipped (the first such result's message). */
  detail: string | undefined;
}

export interface Column {
  /** Heading: the --label, else implementation / gateway profile (and the run when ambiguous). */
  name: string;
  /** The input it came from, as given on the command line. */
  input: string;
  kind: 'run records' | 'allure results';
  implementation: string;
  gateway: string | undefined;
  runId: string | undefined;
  /** Catalogue ID → its cell; IDs no result carries are absent (not covered). */
  cells: Map<string, Cell>;
}
