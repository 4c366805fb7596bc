/**
 * Reachability matrix (Cyclonus style): sources × destinations × (protocol, port), an expected verdict
 * per cell, the actual verdict from the probe server, and the diff. Cells run concurrently.
 * Positive cells (expected allowed) retry until a deadline; negative cells hold for the whole window
 * and are never retried into a pass.
 */
import type { ProbeServer } from './server.ts';
import type { ListenerHandle, ProbeResult, ProbeTarget, Protocol, Verdict } from './types.ts';

/** What a cell should show. `blocked` accepts any non-allowed verdict except `error`. */
export type Expectation = 'allowed' | 'blocked' | 'refused' | 'dropped';

export interface MatrixEndpoint extends ProbeTarget {
  /** The address probed on this endpoint when it is a destination. */
  address: string;
}

export interface MatrixCell {
  from: ProbeTarget;
  to: MatrixEndpoint;
  proto: Protocol;
  /** TCP/UDP port (ignored for ICMP). */
  port?: number;
  /** TCP/UDP source port (default: ephemeral). */
  sport?: number;
  expected: Expectation;
  /** Open an engine listener for this destination port (default: the matrix's `listen`). */
  listen?: boolean;
}

export interface MatrixOptions {
  /** Deadline for expected-allowed cells, retried with `attemptMs` attempts (default 2000 ms). */
  positiveDeadlineMs?: number;
  attemptMs?: number;
  /** Window an expected-blocked cell must hold (default 200 ms). */
  holdMs?: number;
  /** Cells in flight at once (default 2048). */
  concurrency?: number;
  /** Open TCP listeners/UDP echo responders on every destination port (default true). */
  listen?: boolean;
}

export interface CellResult {
  cell: MatrixCell;
  actual: Verdict;
  ok: boolean;
  probe: ProbeResult;
}

export interface MatrixResult {
  ok: boolean;
  cells: CellResult[];
  mismatches: CellResult[];
  sources: string[];
  destinations: string[];
  /** `tcp/80`, `udp/53`, `icmp`. */
  columns: string[];
  elapsedMs: number;
  /** Verdicts per second over the whole run. */
  probesPerSecond: number;
}

/** `icmp`, `tcp/80`, `tcp/40000 sport 80` (the probe syntax of scenarios). */
export function columnKey(proto: Protocol, port: number | undefined, sport?: number): string {
  if (proto === 'icmp') return 'icmp';
  return sport === undefined ? `${proto}/${port}` : `${proto}/${port} sport ${sport}`;
}

export function matches(expected: Expectation, actual: Verdict): boolean {
  if (actual === 'error') return false;
  if (expected === 'blocked') return actual !== 'allowed';
  return expected === actual;
}

/** All cells of sources × destinations × services with `expect` deciding each expectation. */
export function allPairs(
  sources: ProbeTarget[],
  destinations: MatrixEndpoint[],
  services: Array<{ proto: Protocol; port?: number }>,
  expect: (from: ProbeTarget, to: MatrixEndpoint, service: { proto: Protocol; port?: number }) => Expectation,
  options: { includeSelf?: boolean } = {},
): MatrixCell[] {
  const cells: MatrixCell[] = [];
  for (const from of sources) {
    for (const to of destinations) {
      if (!options.includeSelf && from.netnsPath === to.netnsPath) continue;
      for (const service of services) {
        cells.push({
          from,
          to,
          proto: service.proto,
          port: service.port,
          expected: expect(from, to, service),
        });
      }
    }
  }
  return cells;
}

async function limited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return results;
}

export async function runMatrix(
  server: ProbeServer,
  cells: MatrixCell[],
  options: MatrixOptions = {},
): Promise<MatrixResult> {
  const positiveDeadlineMs = options.positiveDeadlineMs ?? 2000;
  const attemptMs = options.attemptMs ?? 250;
  const holdMs = options.holdMs ?? 200;
  const concurrency = options.concurrency ?? 2048;
  const listenDefault = options.listen ?? true;

  // One listener per (destination, proto, port); the server reference-counts them.
  const wanted = new Map<string, { target: ProbeTarget; proto: 'tcp' | 'udp'; port: number }>();
  for (const cell of cells) {
    if (cell.proto === 'icmp' || !(cell.listen ?? listenDefault)) continue;
    if (cell.port === undefined)
      throw new Error(`matrix cell ${cell.from.name}→${cell.to.name} ${cell.proto} needs a port`);
    const key = `${cell.to.netnsPath}|${cell.proto}|${cell.port}`;
    if (!wanted.has(key)) wanted.set(key, { target: cell.to, proto: cell.proto, port: cell.port });
  }
  const handles: ListenerHandle[] = [];
  try {
    for (const handle of await Promise.all(
      [...wanted.values()].map((spec) =>
        server.listen({ target: spec.target, proto: spec.proto, port: spec.port }),
      ),
    )) {
      handles.push(handle);
    }
    const started = performance.now();
    const results = await limited(cells, concurrency, async (cell): Promise<CellResult> => {
      const positive = cell.expected === 'allowed';
      const common = {
        from: cell.from,
        to: cell.to.address,
        mode: positive ? ('positive' as const) : ('hold' as const),
        timeoutMs: positive ? positiveDeadlineMs : holdMs,
        attemptMs,
      };
      let probe: ProbeResult;
      if (cell.proto === 'icmp') probe = await server.icmp(common);
      else {
        const ports = { port: cell.port ?? 0, ...(cell.sport !== undefined ? { sport: cell.sport } : {}) };
        probe =
          cell.proto === 'tcp'
            ? await server.tcp({ ...common, ...ports })
            : await server.udp({ ...common, ...ports });
      }
      return { cell, actual: probe.verdict, ok: matches(cell.expected, probe.verdict), probe };
    });
    const elapsedMs = performance.now() - started;
    const mismatches = results.filter((r) => !r.ok);
    // Rows and columns in the order nodes first appear (as sources or destinations).
    const order = unique(cells.flatMap((c) => [c.from.name, c.to.name]));
    const froms = new Set(cells.map((c) => c.from.name));
    const tos = new Set(cells.map((c) => c.to.name));
    return {
      ok: mismatches.length === 0,
      cells: results,
      mismatches,
      sources: order.filter((n) => froms.has(n)),
      destinations: order.filter((n) => tos.has(n)),
      columns: unique(cells.map((c) => columnKey(c.proto, c.port, c.sport))),
      elapsedMs,
      probesPerSecond: results.length / (elapsedMs / 1000),
    };
  } finally {
    await server.unlisten(handles).catch(() => undefined);
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
