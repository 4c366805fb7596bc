/**
 * Service chaining in the agent (docs/service-chaining.md): which router namespaces get which
 * redirections, and the nft script and policy routes they get (checked by `nft -c` when available).
 * The datapath itself runs end to end in scenarios/svc.
 */
import { describe, expect, it } from 'vitest';
import { redirectEntry } from './fixtures/nat-redirect-entries.ts';
import { deriveRedirects, REDIRECT_MARK_BASE, redirectScript } from './redirect.ts';

const naming = { prefix: 'oti-', hypervisor: 'hv1' };
const redirect = redirectEntry;

describe('agent redirections', () => {
  it('groups redirections by router namespace, sorted by id', () => {
    const d = deriveRedirects(
      [redirect({ id: 'r2' }), redirect({ id: 'r1' }), redirect({ id: 'x', domain: 'd2' })],
      naming,
    );
    expect([...d.keys()]).toEqual(['oti-hv1-d-d1', 'oti-hv1-d-d2']);
    expect(d.get('oti-hv1-d-d1')?.redirects.map((r) => r.id)).toEqual(['r1', 'r2']);
  });

  it('marks the request and its reverse tuple, and routes the mark to the appliance', () => {
    const d = deriveRedirects([redirect({})], naming).get('oti-hv1-d-d1')!;
    const { script, ipLines, marks } = redirectScript(d);
    expect(script).toContain('ether saddr 02:00:00:00:09:12 return');
    expect(script).toContain(
      `ip saddr 10.9.1.11/32 ip daddr 10.9.2.13/32 tcp dport 80 meta mark set ${REDIRECT_MARK_BASE}`,
    );
    expect(script).toContain(
      `ip saddr 10.9.2.13/32 ip daddr 10.9.1.11/32 tcp sport 80 meta mark set ${REDIRECT_MARK_BASE}`,
    );
    expect(ipLines).toEqual([
      `route replace default via 10.9.9.12 dev br9109 onlink table ${REDIRECT_MARK_BASE}`,
    ]);
    expect(marks).toEqual([REDIRECT_MARK_BASE]);
  });

  it('steers an l2 redirection in the bridge by rewriting the destination MAC, with no policy route', () => {
    const d = deriveRedirects([redirect({ mode: 'l2', proto: 'any', ports: undefined })], naming).get(
      'oti-hv1-d-d1',
    )!;
    const { script, ipLines, marks } = redirectScript(d);
    expect(script).toContain('table bridge otwin_redirect {');
    expect(script).toContain(
      'ether type ip ip saddr 10.9.1.11/32 ip daddr 10.9.2.13/32 ether daddr set 02:00:00:00:09:12',
    );
    expect(script).toContain(
      'ether type ip ip saddr 10.9.2.13/32 ip daddr 10.9.1.11/32 ether daddr set 02:00:00:00:09:12',
    );
    expect(ipLines).toEqual([]);
    expect(marks).toEqual([]);
  });
});
