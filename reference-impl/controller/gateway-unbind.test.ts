/**
 * The controller's unbinding order (gateway.ts `reconcileOps`): a binding being removed — by this
 * transaction, or by an earlier one the gateway's `vlan_stats` says it has not acted on — holds every
 * new binding and new logical switch back. Without the hold, a subnet torn down and provisioned again
 * (the next scenario) re-created `vni-1601` within one poll of ovs-vtep, which kept the old switch's
 * "already reported" MACs and left Ucast_Macs_Local empty (GW-4 after gw-2-vlan, issue 16).
 * The tables are what the controller mirrors from a hardware_vtep database; expected operations come
 * from the schema's semantics, not from the emulator.
 */
import { describe, expect, it } from 'vitest';
import { type OvsdbOperation, type OvsdbRow, ovsMap, uuid } from '../ovsdb/types.ts';
import { type GatewayIntent, logicalSwitchName, reconcileOps } from './gateway.ts';

const PORT = 'p-eth2';
const STATS = 'st-0';

/** gw1 with port eth2; `bindings` and `stats` are its vlan_bindings and the gateway's vlan_stats. */
function tables(
  bindings: [number, string][],
  stats: number[],
  switches: Record<string, number> = {},
): Map<string, Map<string, OvsdbRow>> {
  const port: OvsdbRow = {
    name: 'eth2',
    vlan_bindings: ovsMap(bindings.map(([vlan, ls]) => [vlan, uuid(ls)])),
    vlan_stats: ovsMap(stats.map((vlan) => [vlan, uuid(STATS)])),
  };
  return new Map<string, Map<string, OvsdbRow>>([
    ['Physical_Switch', new Map([['ps', { name: 'gw1', ports: ['uuid', PORT] }]])],
    ['Physical_Port', new Map([[PORT, port]])],
    [
      'Logical_Switch',
      new Map(
        Object.entries(switches).map(([id, vni]) => [
          id,
          { name: logicalSwitchName(vni), tunnel_key: vni, replication_mode: 'source_node' } as OvsdbRow,
        ]),
      ),
    ],
  ]);
}

/** eth2 VLAN 0 bound to the subnet of `vni`, one VM on hv1. */
function intent(vni: number): GatewayIntent {
  return {
    bindings: new Map([[vni, new Map([['eth2', [0]]])]]),
    remoteMacs: new Map([[vni, new Map([['02:00:16:00:00:01', { ip: '198.51.100.11', vtep: '10.0.1.2' }]])]]),
    flood: new Map([[vni, ['10.0.1.2']]]),
  };
}

const inserts = (ops: OvsdbOperation[], table: string) =>
  ops.filter((o) => o.op === 'insert' && o.table === table);
const portUpdate = (ops: OvsdbOperation[]) =>
  ops.find((o) => o.op === 'update' && o.table === 'Physical_Port') as { row: OvsdbRow } | undefined;

describe('reconcileOps: a removed binding is finished before anything is bound again', () => {
  it('binds and creates the logical switch at once when nothing is being unbound', () => {
    const ops = reconcileOps(tables([], []), 'gw1', intent(1601));
    expect(inserts(ops, 'Logical_Switch')).toHaveLength(1);
    expect(portUpdate(ops)?.row.vlan_bindings).toEqual(['map', [[0, ['named-uuid', 'ls1601']]]]);
  });

  it('creates no logical switch and binds nothing while the gateway still holds the removed VLAN', () => {
    // The previous scenario's vni-1601 is gone from the database; the gateway has not noticed yet.
    const ops = reconcileOps(tables([], [0]), 'gw1', intent(1601));
    expect(inserts(ops, 'Logical_Switch')).toEqual([]);
    expect(inserts(ops, 'Ucast_Macs_Remote')).toEqual([]);
    expect(portUpdate(ops)).toBeUndefined();
  });

  it('a VLAN moving to another logical switch is unbound first, and bound once the gateway let go', () => {
    const moving = tables([[0, 'ls-a']], [0], { 'ls-a': 1601, 'ls-b': 1602 });
    const first = reconcileOps(moving, 'gw1', intent(1602));
    expect(portUpdate(first)?.row.vlan_bindings).toEqual(['map', []]);
    expect(first).toContainEqual({
      op: 'delete',
      table: 'Logical_Switch',
      where: [['_uuid', '==', ['uuid', 'ls-a']]],
    });
    // Its commit is mirrored; the gateway has not yet dropped VLAN 0 from vlan_stats.
    const unbound = tables([], [0], { 'ls-b': 1602 });
    expect(portUpdate(reconcileOps(unbound, 'gw1', intent(1602)))).toBeUndefined();
    const released = tables([], [], { 'ls-b': 1602 });
    expect(portUpdate(reconcileOps(released, 'gw1', intent(1602)))?.row.vlan_bindings).toEqual([
      'map',
      [[0, ['uuid', 'ls-b']]],
    ]);
  });

  it('keeps what is bound and in use while another VLAN is being released', () => {
    const ops = reconcileOps(tables([[0, 'ls-a']], [0, 100], { 'ls-a': 1601 }), 'gw1', intent(1601));
    expect(portUpdate(ops)).toBeUndefined();
    expect(inserts(ops, 'Ucast_Macs_Remote')).toHaveLength(1);
  });
});
