/**
 * Reachability matrix on a bridged LAN of real namespaces: expected vs actual per cell, negative cells
 * held for the window, and the Cyclonus-style renderings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBridgedHosts,
  type Fixture,
  type FixtureHost,
  fixturePrefix,
  nftDropInbound,
} from './fixtures/namespaces.ts';
import {
  allPairs,
  type Expectation,
  type MatrixResult,
  ProbeServer,
  renderMatrix,
  runMatrix,
} from './index.ts';

const prefix = fixturePrefix('otcm');
let lan: Fixture;
let server: ProbeServer;
let hosts: FixtureHost[];

beforeAll(async () => {
  lan = await createBridgedHosts(prefix, 4);
  hosts = lan.hosts;
  // h2 drops TCP 443 and UDP 53 and ICMP echo; h3 drops TCP 80 from h0 only.
  await nftDropInbound(hosts[2]!.ns, [
    'tcp dport 443 drop',
    'udp dport 53 drop',
    'icmp type echo-request drop',
  ]);
  await nftDropInbound(hosts[3]!.ns, [`ip saddr ${hosts[0]!.address} tcp dport 80 drop`]);
  server = await ProbeServer.start();
});

afterAll(async () => {
  await server?.stop();
  await lan?.destroy();
});

function oracle(
  from: { name: string },
  to: { name: string },
  service: { proto: string; port?: number },
): Expectation {
  if (to.name === 'h2' && (service.port === 443 || service.port === 53 || service.proto === 'icmp'))
    return 'dropped';
  if (to.name === 'h3' && from.name === 'h0' && service.port === 80) return 'dropped';
  return 'allowed';
}

const services = [
  { proto: 'tcp' as const, port: 80 },
  { proto: 'tcp' as const, port: 443 },
  { proto: 'udp' as const, port: 53 },
  { proto: 'icmp' as const },
];

describe('runMatrix', () => {
  let result: MatrixResult;

  it('matches the expected verdict in every cell', async () => {
    const cells = allPairs(hosts, hosts, services, oracle);
    expect(cells).toHaveLength(4 * 3 * 4);
    result = await runMatrix(server, cells, { holdMs: 200 });
    expect(
      result.mismatches.map(
        (m) => `${m.cell.from.name}->${m.cell.to.name} ${m.cell.proto}/${m.cell.port}: ${m.actual}`,
      ),
    ).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.columns).toEqual(['tcp/80', 'tcp/443', 'udp/53', 'icmp']);
    for (const r of result.cells.filter((c) => c.cell.expected !== 'allowed')) {
      // Negative cells held the whole window and were never retried into a pass.
      expect(r.probe.elapsedMs).toBeGreaterThanOrEqual(195);
      expect(r.actual).toBe('dropped');
    }
    // The engine's listeners are closed afterwards.
    expect((await server.stats()).listeners).toBe(0);
  });

  it('reports a wrong expectation as a mismatch and renders it in every format', async () => {
    const cells = allPairs(
      hosts.slice(0, 3),
      hosts.slice(0, 3),
      [{ proto: 'tcp', port: 443 }],
      (_from, to) =>
        // Wrong on purpose: claims h2:443 is open and h1:443 blocked.
        to.name === 'h1' ? 'blocked' : 'allowed',
    );
    const wrong = await runMatrix(server, cells, { positiveDeadlineMs: 500, attemptMs: 100 });
    expect(wrong.ok).toBe(false);
    const described = wrong.mismatches
      .map((m) => `${m.cell.from.name}->${m.cell.to.name}=${m.actual}`)
      .sort();
    expect(described).toEqual(['h0->h1=allowed', 'h0->h2=dropped', 'h1->h2=dropped', 'h2->h1=allowed']);

    const text = renderMatrix(wrong, 'text');
    expect(text).toContain('tcp/443 — expected');
    expect(text).toContain('tcp/443 — actual');
    expect(text).toContain('tcp/443 — mismatch');
    expect(text).toMatch(/h0 -> h1|h0 → h1/);
    const md = renderMatrix(wrong, 'markdown');
    expect(md).toContain('### tcp/443 — mismatch');
    expect(md).toContain('| from \\ to | h0 | h1 | h2 |');
    expect(md).toContain('**X**');
    const html = renderMatrix(wrong, 'html');
    expect(html).toContain('<table>');
    expect(html).toContain('class="bad"');
    expect(html.match(/class="bad"/g)).toHaveLength(4);
  });

  it('renders the passing matrix with the expected/actual symbols', () => {
    const text = renderMatrix(result, 'text', ['actual']);
    const block = text.split('\n\n').find((part) => part.startsWith('icmp — actual'));
    expect(block).toBeDefined();
    const rowH0 = block!.split('\n').find((line) => line.startsWith('h0'));
    // h0 → h1 allowed, h0 → h2 dropped, h0 → h3 allowed; self cell empty.
    expect(rowH0?.replace(/\s+/g, ' ').trim()).toBe('h0 | . X .');
  });
});
