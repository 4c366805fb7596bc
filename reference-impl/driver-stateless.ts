/**
 * `reference-stateless`: the reference implementation as an ACL-only hypervisor switch (Hyper-V port
 * ACLs, vSphere, Nexus 1000V). Same directory, controllers and agents; the hypervisors are marked
 * `securityMode: stateless` in the directory, so each agent installs every allow rule A→B plus its
 * mirror B→A on the SOURCE port (ICMP: echo-reply) and no connection tracking (sg-contract item 5).
 * A documented behavioural difference, not a sabotage: SG-2 fails on this profile.
 */
import type { ImplementationDriver } from '../harness/scenario/drivers/driver.ts';
import { ReferenceDriver } from './driver.ts';

export class ReferenceStatelessDriver extends ReferenceDriver {
  override readonly name: string = 'reference-stateless';
  protected override readonly securityMode = 'stateless' as const;
}

/** The driver module's factory (package.json `otwin.drivers`). */
export function createDriver(): ImplementationDriver {
  return new ReferenceStatelessDriver();
}
