import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvsdbClient, OvsdbError, parseOvsdbTarget } from './client.ts';
import { startVtepServer, type VtepServer, vtepServerMissing } from './fixtures/vtep-server.ts';
import { JsonStreamSplitter } from './framing.ts';
import { namedUuid, setMembers, type TableUpdates, uuidOf } from './types.ts';

describe('JsonStreamSplitter', () => {
  it('splits back-to-back texts and joins a text split across reads, braces in strings included', () => {
    const s = new JsonStreamSplitter();
    expect(s.push('{"a":"}{"}{"b":[1,')).toEqual(['{"a":"}{"}']);
    expect(s.push('2]}  {"c":"\\"}"')).toEqual(['{"b":[1,2]}']);
    expect(s.push('}')).toEqual(['{"c":"\\"}"}']);
  });
});

describe('parseOvsdbTarget', () => {
  it('takes tcp:HOST:PORT and unix:PATH and refuses anything else', () => {
    expect(parseOvsdbTarget('tcp:10.0.0.1:6640')).toEqual({ host: '10.0.0.1', port: 6640 });
    expect(parseOvsdbTarget('unix:/run/db.sock')).toEqual({ path: '/run/db.sock' });
    expect(() => parseOvsdbTarget('10.0.0.1:6640')).toThrow(/tcp:HOST:PORT/);
  });
});

const missing = vtepServerMissing();

describe.skipIf(missing !== undefined)('OvsdbClient against a real ovsdb-server (hardware_vtep)', () => {
  let server: VtepServer;
  let client: OvsdbClient;
  beforeAll(async () => {
    server = await startVtepServer();
    client = await OvsdbClient.connect(server.target);
  }, 20_000);
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  it('lists the database and answers echo', async () => {
    expect(await client.listDbs()).toContain('hardware_vtep');
    await client.echo();
  });

  it('transact inserts rows that vtep-ctl reads back, named-uuid references resolved', async () => {
    const [ls] = await client.transact('hardware_vtep', [
      { op: 'insert', table: 'Logical_Switch', row: { name: 'ls-t1', tunnel_key: 5001 }, 'uuid-name': 'ls' },
      {
        op: 'insert',
        table: 'Physical_Locator',
        row: { dst_ip: '10.0.1.2', encapsulation_type: 'vxlan_over_ipv4' },
        'uuid-name': 'loc',
      },
      {
        op: 'insert',
        table: 'Ucast_Macs_Remote',
        row: { MAC: '02:00:00:00:00:01', logical_switch: namedUuid('ls'), locator: namedUuid('loc') },
      },
    ]);
    expect(uuidOf(ls?.uuid)).toMatch(/^[0-9a-f-]{36}$/);
    expect(server.vtepCtl(['list-remote-macs', 'ls-t1'])).toContain(
      '02:00:00:00:00:01 -> vxlan_over_ipv4/10.0.1.2',
    );
    const [sel] = await client.transact('hardware_vtep', [
      { op: 'select', table: 'Logical_Switch', where: [['name', '==', 'ls-t1']], columns: ['tunnel_key'] },
    ]);
    expect(setMembers(sel?.rows?.[0]?.tunnel_key)).toEqual([5001]);
  });

  it('a failing operation rejects the whole transaction with the operation named', async () => {
    const bad = client.transact('hardware_vtep', [
      { op: 'insert', table: 'Logical_Switch', row: { name: 'ls-t2' } },
      { op: 'insert', table: 'Logical_Switch', row: { name: 'ls-t2' } },
    ]);
    await expect(bad).rejects.toThrow(OvsdbError);
    await expect(bad).rejects.toThrow(/commit failed: constraint violation/);
    expect(server.vtepCtl(['list-ls'])).not.toContain('ls-t2');
  });

  it('monitor returns the initial rows and then notifies inserts and deletes', async () => {
    const seen: TableUpdates[] = [];
    const initial = await client.monitor(
      'hardware_vtep',
      'macs',
      { Ucast_Macs_Remote: { columns: ['MAC'] } },
      (u) => seen.push(u),
    );
    expect(Object.values(initial.Ucast_Macs_Remote ?? {}).map((r) => r.new?.MAC)).toEqual([
      '02:00:00:00:00:01',
    ]);
    server.vtepCtl(['add-ucast-remote', 'ls-t1', '02:00:00:00:00:02', '10.0.1.2']);
    server.vtepCtl(['del-ucast-remote', 'ls-t1', '02:00:00:00:00:01']);
    const flat = () => seen.flatMap((u) => Object.values(u.Ucast_Macs_Remote ?? {}));
    await expect
      .poll(() => flat().map((r) => (r.new ? `+${r.new.MAC}` : `-${r.old?.MAC}`)), { timeout: 5000 })
      .toEqual(['+02:00:00:00:00:02', '-02:00:00:00:00:01']);
    await client.monitorCancel('macs');
  });

  it('a closed session rejects requests and reports the close', async () => {
    let closed = false;
    const c = await OvsdbClient.connect(server.target, { onClose: () => (closed = true) });
    c.close();
    expect(closed).toBe(true);
    await expect(c.echo()).rejects.toThrow(/session closed/);
  });
});
