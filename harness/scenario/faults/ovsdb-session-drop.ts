/**
 * ovsdb-session-drop (GW-6): the gateway node's ovsdb-server drops every client session, as a
 * flapping management link would; with `tamper: true` its vtep DB drifts while the controller is away
 * (a remote MAC row deleted, a stray one added), so that only a real resync restores the rows.
 */
import { dropOvsdbSessions, ovsRunDir } from '../../gateway/vtep-db.ts';
import type { FaultDefinition } from './types.ts';

export interface OvsdbSessionDropFault {
  kind: 'ovsdb-session-drop';
  node: string;
  tamper: boolean;
  durationMs: undefined;
}

export const ovsdbSessionDrop: FaultDefinition<OvsdbSessionDropFault> = {
  kind: 'ovsdb-session-drop',
  required: ['node'],
  optional: ['tamper'],
  properties: {
    node: { $ref: '#/definitions/name' },
    tamper: {
      type: 'boolean',
      description: "ovsdb-session-drop: change the gateway's vtep DB while the controller is away.",
    },
  },
  duration: false,
  chaos: true,
  undoes: false,
  parse: (raw) => ({
    kind: 'ovsdb-session-drop',
    node: String(raw.node),
    tamper: raw.tamper === true,
    durationMs: undefined,
  }),
  describe: (f) => `ovsdb-session-drop on ${f.node}${f.tamper ? ' (vtep DB changed meanwhile)' : ''}`,
  target: (f) => `ovsdb:${f.node}`,
  async apply(fault, ctx) {
    const env = ctx.lab.topology.nodes.find((n) => n.name === fault.node)?.env;
    ctx.reporter.log(await dropOvsdbSessions(ctx.node(fault.node), ovsRunDir(env), fault.tamper));
    return undefined;
  },
};
