/**
 * Gateway profiles (docs/gateways.md): a scenario's `gateway:` field names the profile(s) it runs
 * against, `otwin run --gateway a,b` selects which. One scenario run per selected profile it declares;
 * a selected profile it does not declare is a skipped run with the reason (the report shows both under
 * the parameter `gateway profile`). On a profile, the intent keeps only the gateways whose lab node
 * stands in for that profile (label `otwin.gateway-profile`) and the bare-metal hosts behind them.
 */
import { GATEWAY_PROFILES, gatewayProfileOf } from '../gateway/evpn-gateway.ts';
import type { Topology } from '../topology/types.ts';
import { UserError } from '../util/errors.ts';
import type { Scenario } from './types.ts';

/** `--gateway ovsdb,evpn` → the profiles, or a clear error naming the known ones. */
export function parseGatewayProfiles(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const profiles = [...new Set(value.split(',').map((p) => p.trim()))].filter(Boolean);
  const unknown = profiles.filter((p) => !(GATEWAY_PROFILES as readonly string[]).includes(p));
  if (profiles.length === 0 || unknown.length > 0)
    throw new UserError(`--gateway: unknown gateway profile ${unknown.join(', ') || "''"}`, {
      hint: `profiles: ${GATEWAY_PROFILES.join(', ')} (comma-separated to run against several)`,
    });
  return profiles;
}

/** One run of a scenario on a gateway profile; `skip` says why a selected profile does not apply. */
export interface ProfileRun {
  scenario: Scenario;
  skip: string | undefined;
}

/**
 * The runs of a scenario for the selected profiles (undefined: the scenario's first declared profile).
 * A scenario without a gateway runs once, whatever is selected.
 */
export function profileRuns(scenario: Scenario, selected: string[] | undefined): ProfileRun[] {
  if (scenario.gatewayProfiles.length === 0 || selected === undefined) return [{ scenario, skip: undefined }];
  return selected.map((profile) => ({
    scenario: { ...scenario, gateway: profile },
    skip: scenario.gatewayProfiles.includes(profile)
      ? undefined
      : `does not apply to gateway profile ${profile}: the scenario runs against ${scenario.gatewayProfiles.join(', ')}${scenario.description?.includes('profile') ? ' (its description says why)' : ''}`,
  }));
}

/** The scenario with its intent reduced to the gateways of its profile and the hosts behind them. */
export function intentForProfile(scenario: Scenario, topology: Topology): Scenario {
  const profile = scenario.gateway;
  if (profile === undefined || scenario.intent.gateways.length === 0) return scenario;
  const gateways = scenario.intent.gateways.filter((g) => gatewayProfileOf(topology, g.name) === profile);
  if (gateways.length === scenario.intent.gateways.length) return scenario;
  const kept = new Set(gateways.map((g) => g.name));
  return {
    ...scenario,
    intent: {
      ...scenario.intent,
      gateways,
      bareMetal: scenario.intent.bareMetal.filter((h) => kept.has(h.gateway)),
      externals: scenario.intent.externals.filter((e) => e.gateway === undefined || kept.has(e.gateway)),
    },
  };
}
