/**
 * Alarm expectations: whether the implementation raised an alarm about a VM's MAC (duplicate MAC
 * detection, RFC 7432 §15.1, catalogue EVPN-6), as its driver reads it from the implementation's own
 * API (ImplementationDriver.alarms). A driver that cannot report alarms makes the expectation skipped
 * with that reason, never passed.
 */
import { HarnessError } from '../../util/errors.ts';
import { type ScenarioContext, SkipError } from '../context.ts';
import type { ImplementationAlarm } from '../drivers/driver.ts';
import { IntentIndex } from '../intent.ts';
import type { StepRefs } from '../refs.ts';
import type { Path } from '../schema.ts';
import type { CheckBase } from '../types.ts';
import type { Obj } from '../values.ts';
import type { CheckDefinition } from './types.ts';

export const ALARM_KINDS = ['duplicate-mac'] as const;

export interface AlarmCheck extends CheckBase {
  kind: 'alarm';
  alarm: (typeof ALARM_KINDS)[number];
  /** The VM whose MAC (in its subnet's VNI) the alarm is about. */
  vm: string;
  /** Raised (true) or not (false). */
  present: boolean;
  /** present only: the node (its VTEP) where the implementation says the MAC is kept. */
  at: string | undefined;
}

function references(ctx: StepRefs, body: Obj, at: Path): void {
  const { refs } = ctx;
  if (typeof body.vm === 'string' && !ctx.vms.has(body.vm))
    refs.unknown([...at, 'vm'], 'VM', body.vm, ctx.vms);
  else if (typeof body.vm === 'string' && !ctx.vmsWithMac.has(body.vm))
    refs.error(
      [...at, 'vm'],
      `VM '${body.vm}' has no 'mac:' in the intent, so there is no MAC an alarm could name`,
      `give ${body.vm} a MAC in intent.vms`,
    );
  if (body.at !== undefined) refs.node([...at, 'at'], body.at);
  if (body.at !== undefined && body.present === false)
    refs.error([...at, 'at'], "'at' applies to a raised alarm", 'remove it, or drop `present: false`');
}

const show = (a: ImplementationAlarm) => `${a.kind}: ${a.detail}`;

export const alarm: CheckDefinition<AlarmCheck> = {
  kind: 'alarm',
  schema: {
    description:
      "An alarm the implementation raised about a VM's MAC, read through its own API (duplicate MAC detection, RFC 7432 §15.1). Skipped when the driver cannot report alarms.",
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'vm'],
    properties: {
      kind: { enum: [...ALARM_KINDS], description: 'duplicate-mac: N moves within M seconds (EVPN-6).' },
      vm: { $ref: '#/definitions/name', description: "The VM whose MAC (in its subnet's VNI) it is about." },
      present: { type: 'boolean', description: 'Raised (default) or not.' },
      at: {
        $ref: '#/definitions/name',
        description: 'A lab node: the alarm says the MAC is kept (frozen) behind its VTEP.',
      },
    },
  },
  traffic: false,
  selfPolling: false,
  parse(body, base) {
    const present = body.present !== false;
    const fields = {
      alarm: body.kind as AlarmCheck['alarm'],
      vm: String(body.vm),
      present,
      at: body.at as string | undefined,
    };
    const name =
      base.name ||
      `${present ? '' : 'no '}${fields.alarm} alarm for ${fields.vm}${fields.at ? `, kept at ${fields.at}` : ''}`;
    return { ...base, name, kind: 'alarm', ...fields };
  },
  references,
  async evaluate(check, ctx: ScenarioContext) {
    const driver = ctx.driver;
    if (!driver.alarms)
      throw new SkipError(
        `implementation ${driver.name} cannot report alarms (its driver has no alarms method), so '${check.name}' was not checked`,
      );
    const idx = new IntentIndex(ctx.intent);
    const vm = idx.vm(check.vm);
    const mac = vm.mac?.toLowerCase();
    if (!mac) throw new HarnessError(`VM '${check.vm}' has no MAC in the intent`);
    const vni = idx.subnetOf(vm).vni;
    const alarms = await driver.alarms(ctx.driverContext());
    const readAt = performance.now();
    const about = alarms.filter((a) => a.kind === check.alarm && a.mac === mac && (a.vni ?? vni) === vni);
    const what = `${check.alarm} alarm for ${check.vm} (MAC ${mac}, VNI ${vni})`;
    let problem: string | undefined;
    if (!check.present && about.length) problem = `expected no ${what}, found: ${about.map(show).join('; ')}`;
    if (check.present && !about.length)
      problem = `expected a ${what}, found none${alarms.length ? ` (other alarms: ${alarms.map(show).join('; ')})` : ''}`;
    if (check.present && about.length && check.at) {
      const vtep = await ctx.vtepAddress(check.at);
      if (!about.some((a) => a.vtep === vtep))
        problem = `expected the ${what} to keep the MAC at ${check.at} (${vtep}), found: ${about.map(show).join('; ')}`;
    }
    return {
      ok: problem === undefined,
      summary: problem ?? (check.present ? `${what}: ${about.map(show).join('; ')}` : `no ${what}`),
      attachments: [
        {
          name: `alarms (${driver.name})`,
          content: alarms.map(show).join('\n') || '(none)',
          type: 'text/plain',
        },
      ],
      nodes: [],
      observedAt: readAt,
    };
  },
};
