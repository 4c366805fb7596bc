import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryApiError, DirectoryClient, DirectoryUnavailableError, DirectoryWatcher } from './client.ts';
import type { Change } from './model.ts';
import { duplicateMacAlarmId } from './model.ts';
import { DirectoryServer } from './server.ts';

const TOKEN = 'test-token';

async function start(
  dbPath: string,
  port = 0,
): Promise<{ server: DirectoryServer; client: DirectoryClient; port: number }> {
  const server = new DirectoryServer({ dbPath, token: TOKEN, host: '127.0.0.1', port });
  const address = await server.listen();
  const client = new DirectoryClient({ url: `http://127.0.0.1:${address.port}`, token: TOKEN });
  return { server, client, port: address.port };
}

async function seed(client: DirectoryClient): Promise<void> {
  await client.create('zones', { id: 'z1', name: 'zone 1' });
  await client.create('hypervisors', { id: 'hv1', name: 'hv1', zone: 'z1', vtep: '10.0.0.1' });
  await client.create('tenants', { id: 't1', name: 'tenant 1' });
  await client.create('domains', { id: 'd1', tenant: 't1', name: 'd1' });
  await client.create('subnets', {
    id: 's1',
    domain: 'd1',
    name: 'web',
    vni: 1001,
    prefix: '10.1.1.0/24',
    gateway: '10.1.1.1',
  });
}

async function expectApiError(promise: Promise<unknown>): Promise<DirectoryApiError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DirectoryApiError) return err;
    throw err;
  }
  throw new Error('expected an API error');
}

describe('directory', () => {
  let dir: string;
  let server: DirectoryServer;
  let client: DirectoryClient;
  let port: number;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'otf-dir-'));
    ({ server, client, port } = await start(join(dir, 'db.sqlite')));
  });
  afterEach(async () => {
    await server.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores alarms controllers raise and lists them (runtime state, no revision)', async () => {
    const revision = (await client.request<{ revision: number }>('GET', '/v1/snapshot')).revision;
    const alarm = {
      id: duplicateMacAlarmId('z1', 7206, '02:00:72:06:00:11'),
      kind: 'duplicate-mac' as const,
      controller: 'c1',
      zone: 'z1',
      vni: 7206,
      mac: '02:00:72:06:00:11',
      vtep: '10.0.1.2',
      seq: 4,
      moves: 5,
      windowSeconds: 180,
      raisedAt: new Date().toISOString(),
    };
    expect(alarm.id).toBe('duplicate-mac.z1.7206.020072060011');
    await client.raiseAlarm(alarm);
    await client.raiseAlarm(alarm); // idempotent: a retry after a lost answer
    expect(await client.alarms()).toEqual([alarm]);
    expect((await client.request<{ revision: number }>('GET', '/v1/snapshot')).revision).toBe(revision);
    const bad = await client.request('PUT', '/v1/alarms/x', { kind: 'other' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(DirectoryApiError);
    expect((bad as DirectoryApiError).message).toMatch(/kind "duplicate-mac"/);
    const posted = await client.request('POST', '/v1/alarms', alarm).catch((e: unknown) => e);
    expect((posted as DirectoryApiError).status).toBe(405);
  });

  it('applies a batch in one transaction: all operations or none, changes in order', async () => {
    await seed(client);
    const before = (await client.changes(0, 0)).revision;
    const vport = (i: number) => ({
      id: `b${i}`,
      subnet: 's1',
      hypervisor: 'hv1',
      name: `bulk-${i}`,
      attachment: 'none',
      mac: `02:b0:00:00:00:${i.toString(16).padStart(2, '0')}`,
      ip: `10.1.1.${100 + i}`,
    });
    const results = await client.batch([
      ...[0, 1, 2].map((i) => ({ op: 'create' as const, collection: 'vports' as const, body: vport(i) })),
      { op: 'update', collection: 'vports', id: 'b1', body: { name: 'renamed' } },
      { op: 'delete', collection: 'vports', id: 'b2' },
    ]);
    expect(results.map((r) => `${r.op} ${r.id}`)).toEqual([
      'create b0',
      'create b1',
      'create b2',
      'update b1',
      'delete b2',
    ]);
    expect(results.map((r) => r.revision)).toEqual([1, 2, 3, 4, 5].map((n) => before + n));
    const changes = (await client.changes(before, 0)).changes;
    expect(changes.map((c) => `${c.op} ${c.id}`)).toEqual([
      'create b0',
      'create b1',
      'create b2',
      'update b1',
      'delete b2',
    ]);

    // The fourth operation conflicts (b0's MAC): nothing of the batch is stored, no change is emitted.
    const conflict = await expectApiError(
      client.batch([
        { op: 'create', collection: 'vports', body: vport(3) },
        { op: 'delete', collection: 'vports', id: 'b1' },
        { op: 'create', collection: 'vports', body: vport(4) },
        { op: 'create', collection: 'vports', body: { ...vport(5), mac: vport(0).mac } },
      ]),
    );
    expect(conflict.status).toBe(409);
    expect(conflict.message).toMatch(/operation 3 \(create vports\)/);
    expect(conflict.field).toBe('/operations/3/mac');
    expect((await client.list('vports')).map((v) => v.id).sort()).toEqual(['b0', 'b1']);
    expect((await client.changes(before + 5, 0)).changes).toEqual([]);

    const envelope = await expectApiError(
      client.batch([{ op: 'move', collection: 'vports', id: 'b0' } as never]),
    );
    expect(envelope.status).toBe(422);
    expect(envelope.field).toBe('/operations/0/op');
  });

  it('serves an OpenAPI 3 document without authentication', async () => {
    const response = await fetch(`${client.url}/openapi.json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/vports', '/v1/vports/{id}', '/v1/changes', '/v1/snapshot']),
    );
    expect(doc.components.schemas).toHaveProperty('SubnetCreate');
    expect(doc.components.schemas).toHaveProperty('FloatingIpCreate');
  });

  it('refuses requests without or with a wrong bearer token', async () => {
    const none = await fetch(`${client.url}/v1/tenants`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const body = (await none.json()) as { error: { code: string; hint: string } };
    expect(body.error.code).toBe('unauthenticated');
    expect(body.error.hint).toMatch(/Authorization: Bearer/);
    const wrong = new DirectoryClient({ url: client.url, token: 'nope' });
    const err = await expectApiError(wrong.list('tenants'));
    expect(err.status).toBe(401);
  });

  it('creates, lists, patches and deletes objects', async () => {
    await seed(client);
    const subnet = await client.get('subnets', 's1');
    expect(subnet.gatewayMac).toBe('02:0a:00:00:03:e9');
    expect(subnet.routeTarget).toBe('65000:1001');
    const vport = await client.create('vports', {
      subnet: 's1',
      hypervisor: 'hv1',
      name: 'vm1',
      mac: '02:00:00:00:00:0A',
      ip: '10.1.1.10',
    });
    expect(vport.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(vport.mac).toBe('02:00:00:00:00:0a');
    expect(await client.list('vports', { hypervisor: 'hv1' })).toHaveLength(1);
    await client.create('hypervisors', { id: 'hv2', name: 'hv2', zone: 'z1', vtep: '10.0.0.2' });
    const moved = await client.patch('vports', vport.id, { hypervisor: 'hv2' });
    expect(moved.hypervisor).toBe('hv2');
    expect(moved.revision).toBeGreaterThan(vport.revision);
    await client.delete('vports', vport.id);
    expect(await client.list('vports')).toHaveLength(0);
  });

  it('reports every bad field with a hint', async () => {
    await seed(client);
    const err = await expectApiError(
      client.create('subnets', {
        domain: 'd1',
        name: 'x',
        vni: 0,
        prefix: '10.2.0.1/24',
        gateway: 'nope',
        colour: 'red',
      }),
    );
    expect(err.status).toBe(422);
    expect(err.code).toBe('invalid_field');
    const response = await fetch(`${client.url}/v1/subnets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        domain: 'd1',
        name: 'x',
        vni: 0,
        prefix: '10.2.0.1/24',
        gateway: 'nope',
        colour: 'red',
      }),
    });
    const body = (await response.json()) as {
      error: { details: Array<{ field: string; message: string; hint: string }> };
    };
    const fields = body.error.details.map((d) => d.field).sort();
    expect(fields).toEqual(['/colour', '/gateway', '/prefix', '/vni']);
    expect(body.error.details.find((d) => d.field === '/prefix')?.message).toMatch(
      /did you mean 10\.2\.0\.0\/24/,
    );
    for (const d of body.error.details) expect(d.hint.length).toBeGreaterThan(5);
  });

  it('checks cross-object rules', async () => {
    await seed(client);
    const gwOutside = await expectApiError(
      client.create('subnets', {
        domain: 'd1',
        name: 'x',
        vni: 1002,
        prefix: '10.1.2.0/24',
        gateway: '10.1.3.1',
      }),
    );
    expect(gwOutside.field).toBe('/gateway');
    const overlap = await expectApiError(
      client.create('subnets', {
        domain: 'd1',
        name: 'x',
        vni: 1002,
        prefix: '10.1.0.0/16',
        gateway: '10.1.0.1',
      }),
    );
    expect(overlap.status).toBe(409);
    expect(overlap.code).toBe('overlap');
    const dupVni = await expectApiError(
      client.create('subnets', {
        domain: 'd1',
        name: 'y',
        vni: 1001,
        prefix: '10.9.0.0/24',
        gateway: '10.9.0.1',
      }),
    );
    expect(dupVni.status).toBe(409);
    expect(dupVni.field).toBe('/vni');
    // Overlapping prefixes in another tenant's domain are fine.
    await client.create('tenants', { id: 't2', name: 'tenant 2' });
    await client.create('domains', { id: 'd2', tenant: 't2', name: 'd1' });
    await client.create('subnets', {
      id: 's2',
      domain: 'd2',
      name: 'web',
      vni: 2001,
      prefix: '10.1.1.0/24',
      gateway: '10.1.1.1',
    });
    const outside = await expectApiError(
      client.create('vports', {
        subnet: 's1',
        hypervisor: 'hv1',
        name: 'v',
        mac: '02:00:00:00:00:01',
        ip: '10.1.2.5',
      }),
    );
    expect(outside.field).toBe('/ip');
    const gw = await expectApiError(
      client.create('vports', {
        subnet: 's1',
        hypervisor: 'hv1',
        name: 'v',
        mac: '02:00:00:00:00:01',
        ip: '10.1.1.1',
      }),
    );
    expect(gw.message).toMatch(/gateway/);
    const badRef = await expectApiError(
      client.create('vports', {
        subnet: 's1',
        hypervisor: 'hv9',
        name: 'v',
        mac: '02:00:00:00:00:01',
        ip: '10.1.1.5',
      }),
    );
    expect(badRef.code).toBe('invalid_reference');
    expect(badRef.field).toBe('/hypervisor');
    await client.create('vports', {
      id: 'v1',
      subnet: 's1',
      hypervisor: 'hv1',
      name: 'v',
      mac: '02:00:00:00:00:01',
      ip: '10.1.1.5',
    });
    const dupIp = await expectApiError(
      client.create('vports', {
        subnet: 's1',
        hypervisor: 'hv1',
        name: 'v2',
        mac: '02:00:00:00:00:02',
        ip: '10.1.1.5',
      }),
    );
    expect(dupIp.status).toBe(409);
    expect(dupIp.field).toBe('/ip');
    const immutable = await expectApiError(client.patch('vports', 'v1', { ip: '10.1.1.6' }));
    expect(immutable.message).toMatch(/cannot be changed/);
    const inUse = await expectApiError(client.delete('subnets', 's1'));
    expect(inUse.status).toBe(409);
    expect(inUse.code).toBe('in_use');
    expect(inUse.message).toMatch(/vports\/v1/);
    const missing = await expectApiError(client.get('vports', 'nope'));
    expect(missing.status).toBe(404);
    // Security groups get directory-allocated numeric ids; rules and memberships are checked.
    const web = await client.create('securityGroups', { id: 'sg1', tenant: 't1', name: 'web' });
    const db = await client.create('securityGroups', { id: 'sg2', tenant: 't1', name: 'db', domain: 'd1' });
    expect(web.sgid).toBe(8_000_001);
    expect(db.sgid).toBe(8_000_002);
    const chosenId = await expectApiError(
      client.create('securityGroups', { tenant: 't1', name: 'x', sgid: 8_000_100 }),
    );
    expect(chosenId.field).toBe('/sgid');
    expect(chosenId.message).toMatch(/allocated by the directory/);
    const renumber = await expectApiError(client.patch('securityGroups', 'sg1', { sgid: 8_000_100 }));
    expect(renumber.message).toMatch(/cannot be changed/);
    await client.create('securityGroups', { id: 'sg-t2', tenant: 't2', name: 'web' });
    const foreignGroup = await expectApiError(client.patch('vports', 'v1', { securityGroups: ['sg-t2'] }));
    expect(foreignGroup.field).toBe('/securityGroups');
    const foreignRemote = await expectApiError(
      client.create('securityRules', {
        securityGroup: 'sg1',
        direction: 'ingress',
        protocol: 'any',
        remoteGroup: 'sg-t2',
      }),
    );
    expect(foreignRemote.field).toBe('/remoteGroup');
    await client.create('securityRules', {
      securityGroup: 'sg1',
      direction: 'ingress',
      protocol: 'tcp',
      portMin: 80,
      portMax: 443,
    });
    const icmpPorts = await expectApiError(
      client.create('securityRules', {
        securityGroup: 'sg1',
        direction: 'ingress',
        protocol: 'icmp',
        portMin: 1,
      }),
    );
    expect(icmpPorts.field).toBe('/portMin');
    await client.patch('vports', 'v1', { securityGroups: ['sg1'] });
    await client.create('floatingIps', { tenant: 't1', address: '192.0.2.10', vport: 'v1' });
    await client.create('redirectionTargets', { domain: 'd1', name: 'fw', mode: 'l3', vport: 'v1' });
    const wrongTenantFip = await expectApiError(
      client.create('floatingIps', { tenant: 't2', address: '192.0.2.11', vport: 'v1' }),
    );
    expect(wrongTenantFip.field).toBe('/vport');
  });

  it('gives clear errors for malformed requests', async () => {
    const notJson = await fetch(`${client.url}/v1/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{"name":',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
    const wrongType = await fetch(`${client.url}/v1/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' },
      body: '{"name":"x"}',
    });
    expect(wrongType.status).toBe(415);
    const unknown = await expectApiError(client.request('GET', '/v1/widgets'));
    expect(unknown.status).toBe(404);
    expect(unknown.hint).toMatch(/vports/);
    const badSince = await expectApiError(client.request('GET', '/v1/changes?since=abc'));
    expect(badSince.status).toBe(400);
    expect(badSince.field).toBe('since');
  });

  it('persists every acknowledged change across a restart, revision included', async () => {
    await seed(client);
    await client.create('vports', {
      id: 'v1',
      subnet: 's1',
      hypervisor: 'hv1',
      name: 'vm1',
      mac: '02:00:00:00:00:01',
      ip: '10.1.1.10',
    });
    const before = await client.snapshot();
    await server.close();
    await expect(client.list('tenants')).rejects.toBeInstanceOf(DirectoryUnavailableError);
    await expect(client.list('tenants')).rejects.toThrow(/unreachable.*changes are frozen/);
    ({ server, client } = await start(join(dir, 'db.sqlite'), port));
    const after = await client.snapshot();
    expect(after).toEqual(before);
    const next = await client.create('tenants', { name: 'after restart' });
    expect(next.revision).toBe(before.revision + 1);
  });

  it('streams changes by long-poll and resumes from a revision after a directory restart', async () => {
    await client.create('zones', { id: 'z1', name: 'z1' });
    const seen: Change[] = [];
    let snapshots = 0;
    const watcher = new DirectoryWatcher(
      client,
      { onSnapshot: () => snapshots++, onChange: (c) => seen.push(c) },
      2000,
    );
    const running = watcher.run();
    const waitSeen = async (n: number) => {
      for (let i = 0; i < 200 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 25));
      expect(seen.length).toBe(n);
    };
    const t0 = performance.now();
    await client.create('tenants', { id: 't1', name: 't1' });
    await waitSeen(1);
    expect(performance.now() - t0).toBeLessThan(500);
    await server.close();
    ({ server, client } = await start(join(dir, 'db.sqlite'), port));
    await client.create('tenants', { id: 't2', name: 't2' });
    await client.patch('tenants', 't2', { description: 'x' });
    await waitSeen(3);
    watcher.stop();
    await running;
    expect(snapshots).toBe(1);
    expect(seen.map((c) => [c.op, c.id])).toEqual([
      ['create', 't1'],
      ['create', 't2'],
      ['update', 't2'],
    ]);
    expect(seen[2]?.previous?.description).toBe('');
    const revisions = seen.map((c) => c.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
  });
});
