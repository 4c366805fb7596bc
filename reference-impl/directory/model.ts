/**
 * The directory's object model (the VSD role): one declarative spec per collection, from which the
 * SQLite schema, the OpenAPI document and the field validation are all derived, so the three never
 * disagree. Cross-object rules (a gateway inside its prefix, non-overlapping subnets in a domain,
 * a vport address inside its subnet, ...) live in `semantic.ts`.
 */

export type FieldType =
  | 'id' // a reference to another collection's object (by id)
  | 'string'
  | 'name' // a short human name: 1..63 chars, no control characters
  | 'integer'
  | 'ipv4'
  | 'cidr4'
  | 'mac'
  | 'enum'
  | 'routeTarget'
  | 'idList'; // a JSON array of references

export interface FieldSpec {
  name: string;
  type: FieldType;
  description: string;
  required?: boolean;
  /** For `id`/`idList`: the referenced collection. */
  ref?: CollectionName;
  /** May be changed by PATCH (default true for optional fields, false for references of identity). */
  mutable?: boolean;
  /** Unique across the collection (alone), enforced by SQLite and reported as 409. */
  unique?: boolean;
  min?: number;
  max?: number;
  values?: readonly string[];
  /** Allocated by the directory; a client that sends it gets a clear error. */
  serverAssigned?: boolean;
  /** Filled in when absent (static default). */
  defaultValue?: string | number | null;
  nullable?: boolean;
}

export interface CollectionSpec {
  name: CollectionName;
  /** Singular, for messages and OpenAPI schema names. */
  singular: string;
  description: string;
  fields: FieldSpec[];
  /** Multi-column unique constraints: [fields..., message]. */
  uniques?: Array<{ fields: string[]; what: string }>;
}

/** First security group id the directory allocates (Tungsten Fabric's locally allocated range starts here). */
export const SGID_MIN = 8_000_001;

export const COLLECTIONS = [
  'zones',
  'hypervisors',
  'tenants',
  'domains',
  'subnets',
  'vports',
  'securityGroups',
  'securityRules',
  'floatingIps',
  'redirectionTargets',
  'gateways',
  'gatewayBindings',
] as const;
export type CollectionName = (typeof COLLECTIONS)[number];

const nameField = (what: string): FieldSpec => ({
  name: 'name',
  type: 'name',
  description: `Human name of the ${what}.`,
  required: true,
});
const descriptionField: FieldSpec = {
  name: 'description',
  type: 'string',
  description: 'Free text.',
  max: 1024,
  defaultValue: '',
};

/** The owning tenant of a tenant-scoped object: set at creation, never moved. */
const tenantField: FieldSpec = {
  name: 'tenant',
  type: 'id',
  ref: 'tenants',
  required: true,
  mutable: false,
  description: 'Tenant id.',
};

export const SPECS: Record<CollectionName, CollectionSpec> = {
  zones: {
    name: 'zones',
    singular: 'zone',
    description: 'An availability zone: a set of hypervisors served by one or more controllers.',
    fields: [{ ...nameField('zone'), unique: true }, descriptionField],
  },
  hypervisors: {
    name: 'hypervisors',
    singular: 'hypervisor',
    description: 'A hypervisor (an agent); its VTEP is the underlay address VXLAN uses.',
    fields: [
      { ...nameField('hypervisor'), unique: true },
      { name: 'zone', type: 'id', ref: 'zones', required: true, description: 'Zone id.' },
      {
        name: 'vtep',
        type: 'ipv4',
        required: true,
        unique: true,
        description: 'Underlay IPv4 address (VXLAN source).',
      },
      {
        name: 'securityMode',
        type: 'enum',
        values: ['stateful', 'stateless'],
        defaultValue: 'stateful',
        description:
          'How the hypervisor enforces security rules: stateful (conntrack: replies pass) or stateless (ACL-only switch profile: each allow rule plus its source-port mirror).',
      },
      descriptionField,
    ],
  },
  tenants: {
    name: 'tenants',
    singular: 'tenant',
    description: 'A tenant (enterprise). Tenants never see each other; addresses may overlap.',
    fields: [{ ...nameField('tenant'), unique: true }, descriptionField],
  },
  domains: {
    name: 'domains',
    singular: 'domain',
    description:
      'A routing domain of a tenant: subnets of one domain route to each other, on the ingress hypervisor.',
    fields: [
      tenantField,
      nameField('domain'),
      descriptionField,
      {
        name: 'outboundNat',
        type: 'enum',
        values: ['none', 'pnat'],
        defaultValue: 'none',
        description:
          "How VMs without a floating IP reach outside the overlay: none, or pnat (distributed port NAT to their own hypervisor's address).",
      },
      {
        name: 'l3Vni',
        type: 'integer',
        min: 1,
        max: 16_777_215,
        description:
          "L3 VNI of the domain: its subnets are announced as EVPN type-5 routes with it (RFC 9136), and type-5 routes carrying the domain's route target (a PE's VRF) are imported. Absent: none.",
      },
      {
        name: 'routeTarget',
        type: 'routeTarget',
        description: "Route target of the domain's type-5 routes. Default: <directory ASN>:<l3Vni>.",
      },
    ],
    uniques: [{ fields: ['tenant', 'name'], what: 'a domain of this name in this tenant' }],
  },
  subnets: {
    name: 'subnets',
    singular: 'subnet',
    description: 'An L2 segment (one VXLAN VNI) with an anycast gateway on every hypervisor.',
    fields: [
      {
        name: 'domain',
        type: 'id',
        ref: 'domains',
        required: true,
        mutable: false,
        description: 'Domain id.',
      },
      nameField('subnet'),
      {
        name: 'vni',
        type: 'integer',
        required: true,
        unique: true,
        mutable: false,
        min: 1,
        max: 16_777_215,
        description: 'VXLAN network identifier (24 bits), unique in the directory.',
      },
      {
        name: 'prefix',
        type: 'cidr4',
        required: true,
        mutable: false,
        description: 'IPv4 prefix, e.g. 10.0.1.0/24 (network address, prefix length 8..30).',
      },
      {
        name: 'gateway',
        type: 'ipv4',
        required: true,
        mutable: false,
        description: 'Anycast gateway address, a host address inside the prefix.',
      },
      {
        name: 'gatewayMac',
        type: 'mac',
        description:
          'Anycast gateway MAC, identical on every hypervisor. Default: derived from the VNI (02:0a:00:<vni as 3 octets>).',
      },
      {
        name: 'routeTarget',
        type: 'routeTarget',
        description: 'EVPN route target ASN:NN. Default: <directory ASN>:<vni> (RFC 8365 auto-derivation).',
      },
      descriptionField,
    ],
    uniques: [{ fields: ['domain', 'name'], what: 'a subnet of this name in this domain' }],
  },
  vports: {
    name: 'vports',
    singular: 'vport',
    description: 'A VM attachment: a port of a subnet on a hypervisor, with the VM MAC and IP.',
    fields: [
      {
        name: 'subnet',
        type: 'id',
        ref: 'subnets',
        required: true,
        mutable: false,
        description: 'Subnet id.',
      },
      {
        name: 'hypervisor',
        type: 'id',
        ref: 'hypervisors',
        required: true,
        description: 'Hypervisor id. Changing it moves the VM (MAC mobility).',
      },
      nameField('vport'),
      { name: 'mac', type: 'mac', required: true, mutable: false, description: 'VM MAC (unicast).' },
      {
        name: 'attachment',
        type: 'enum',
        values: ['vm', 'none'],
        defaultValue: 'vm',
        mutable: false,
        description:
          'vm: the hypervisor creates the VM port. none: an address-only endpoint (no VM is created; its type-2 route and group memberships are announced as for a VM), for scale tests.',
      },
      {
        name: 'ip',
        type: 'ipv4',
        required: true,
        mutable: false,
        description: 'VM IPv4 address inside the subnet (not the gateway).',
      },
      {
        name: 'securityGroups',
        type: 'idList',
        ref: 'securityGroups',
        defaultValue: '[]',
        description:
          "Security group ids (same tenant, same domain when the group has one). Enforced on the vport's hypervisor, ingress and egress; carried on its EVPN type-2 routes as secgroup communities.",
      },
      descriptionField,
    ],
    uniques: [
      { fields: ['subnet', 'ip'], what: 'a vport with this IP in this subnet' },
      { fields: ['subnet', 'mac'], what: 'a vport with this MAC in this subnet' },
    ],
  },
  securityGroups: {
    name: 'securityGroups',
    singular: 'securityGroup',
    description:
      'A security group of a tenant. Its rules apply in its domain (or in every domain of the tenant when it has none); a domain with at least one rule denies what no rule allows.',
    fields: [
      tenantField,
      nameField('security group'),
      {
        name: 'domain',
        type: 'id',
        ref: 'domains',
        nullable: true,
        mutable: false,
        description: 'Domain id the group (and its rules) belongs to; null = every domain of the tenant.',
      },
      {
        name: 'sgid',
        type: 'integer',
        unique: true,
        mutable: false,
        serverAssigned: true,
        min: SGID_MIN,
        max: 0xffffffff,
        description:
          'Numeric group id allocated by the directory (from 8000001 upward), carried in the secgroup BGP extended community. Read-only.',
      },
      descriptionField,
    ],
    uniques: [{ fields: ['tenant', 'name'], what: 'a security group of this name in this tenant' }],
  },
  securityRules: {
    name: 'securityRules',
    singular: 'securityRule',
    description:
      'An allow rule of a security group: ingress = from the remote side to the members, egress = from the members to the remote side (remoteGroup, remotePrefix, or anyone when both are null). Stateful: replies pass.',
    fields: [
      {
        name: 'securityGroup',
        type: 'id',
        ref: 'securityGroups',
        required: true,
        mutable: false,
        description: 'Security group id the rule belongs to.',
      },
      {
        name: 'direction',
        type: 'enum',
        values: ['ingress', 'egress'],
        required: true,
        description: 'Traffic direction relative to the group members.',
      },
      {
        name: 'protocol',
        type: 'enum',
        values: ['any', 'tcp', 'udp', 'icmp'],
        required: true,
        description: 'IP protocol.',
      },
      {
        name: 'portMin',
        type: 'integer',
        min: 1,
        max: 65535,
        nullable: true,
        description: 'First port (tcp/udp).',
      },
      {
        name: 'portMax',
        type: 'integer',
        min: 1,
        max: 65535,
        nullable: true,
        description: 'Last port (tcp/udp).',
      },
      {
        name: 'remoteGroup',
        type: 'id',
        ref: 'securityGroups',
        nullable: true,
        description: 'Peer group id (or remotePrefix).',
      },
      { name: 'remotePrefix', type: 'cidr4', nullable: true, description: 'Peer prefix (or remoteGroup).' },
    ],
  },
  floatingIps: {
    name: 'floatingIps',
    singular: 'floatingIp',
    description:
      "A public address mapped 1:1 to a vport: translated on the vport's hypervisor, announced as a /32 to the PE (docs/nat.md).",
    fields: [
      tenantField,
      { name: 'address', type: 'ipv4', required: true, unique: true, description: 'Public IPv4 address.' },
      {
        name: 'vport',
        type: 'id',
        ref: 'vports',
        nullable: true,
        description: 'Vport id it maps to, or null.',
      },
    ],
  },
  redirectionTargets: {
    name: 'redirectionTargets',
    singular: 'redirectionTarget',
    description:
      'A service-chaining target: traffic of the domain matching sourcePrefix → destinationPrefix (protocol, destination ports) is steered through the appliance vport by the ingress hypervisor, and its replies back through it (docs/service-chaining.md).',
    fields: [
      {
        name: 'domain',
        type: 'id',
        ref: 'domains',
        required: true,
        mutable: false,
        description: 'Domain id.',
      },
      nameField('redirection target'),
      {
        name: 'mode',
        type: 'enum',
        values: ['l2', 'l3'],
        required: true,
        description: 'Steering: l2 (frame redirect) or l3 (policy route).',
      },
      { name: 'vport', type: 'id', ref: 'vports', nullable: true, description: 'Appliance vport id.' },
      {
        name: 'standbyVport',
        type: 'id',
        ref: 'vports',
        nullable: true,
        description:
          'Standby appliance vport id (SVC-5): the ingress hypervisor steers to it while the active appliance fails its liveness probe (null: no standby).',
      },
      {
        name: 'sourcePrefix',
        type: 'cidr4',
        nullable: true,
        description: 'Redirected traffic comes from this prefix (null: any source of the domain).',
      },
      {
        name: 'destinationPrefix',
        type: 'cidr4',
        nullable: true,
        description: 'Redirected traffic goes to this prefix (null: any destination of the domain).',
      },
      {
        name: 'protocol',
        type: 'enum',
        values: ['any', 'tcp', 'udp', 'icmp'],
        defaultValue: 'any',
        description: 'IP protocol of the redirected traffic.',
      },
      {
        name: 'portMin',
        type: 'integer',
        min: 1,
        max: 65535,
        nullable: true,
        description: 'First destination port (tcp/udp; null: every port).',
      },
      {
        name: 'portMax',
        type: 'integer',
        min: 1,
        max: 65535,
        nullable: true,
        description: 'Last destination port (tcp/udp).',
      },
    ],
    uniques: [{ fields: ['domain', 'name'], what: 'a redirection target of this name in this domain' }],
  },
  gateways: {
    name: 'gateways',
    singular: 'gateway',
    description:
      'An OVSDB hardware VTEP (hardware_vtep schema, RFC 7047) managed by the controllers of its zone: its physical switch, and the OVSDB address they connect to.',
    fields: [
      {
        ...nameField('gateway'),
        unique: true,
        description: 'Name of its Physical_Switch row in the hardware_vtep database.',
      },
      {
        name: 'zone',
        type: 'id',
        ref: 'zones',
        required: true,
        description: 'Zone id (whose controllers manage it).',
      },
      {
        name: 'ovsdb',
        type: 'string',
        required: true,
        max: 255,
        description: 'OVSDB address of the gateway, tcp:HOST:PORT (or unix:PATH).',
      },
      descriptionField,
    ],
  },
  gatewayBindings: {
    name: 'gatewayBindings',
    singular: 'gatewayBinding',
    description:
      'A physical port + VLAN of a gateway bound to a subnet (the logical switch whose tunnel key is its VNI).',
    fields: [
      {
        name: 'gateway',
        type: 'id',
        ref: 'gateways',
        required: true,
        mutable: false,
        description: 'Gateway id.',
      },
      {
        name: 'port',
        type: 'name',
        required: true,
        mutable: false,
        description: 'Physical_Port name on the gateway.',
      },
      {
        name: 'vlan',
        type: 'integer',
        required: true,
        mutable: false,
        min: 0,
        max: 4095,
        description: 'VLAN id on the port (0: the emulator binds the whole port, see docs/gateways.md).',
      },
      { name: 'subnet', type: 'id', ref: 'subnets', required: true, description: 'Subnet id.' },
      descriptionField,
    ],
    uniques: [
      { fields: ['gateway', 'port', 'vlan'], what: 'a binding of this port and VLAN on this gateway' },
    ],
  },
};

/** Order in which collections depend on each other (a snapshot is applied in this order). */
export const DEPENDENCY_ORDER: CollectionName[] = [
  'zones',
  'hypervisors',
  'tenants',
  'domains',
  'subnets',
  'securityGroups',
  'vports',
  'securityRules',
  'floatingIps',
  'redirectionTargets',
  'gateways',
  'gatewayBindings',
];

/** Objects as the API returns them. */
export interface Base {
  id: string;
  /** Revision of the last change of this object. */
  revision: number;
}
export interface Zone extends Base {
  name: string;
  description: string;
}
export interface Hypervisor extends Base {
  name: string;
  zone: string;
  vtep: string;
  securityMode?: 'stateful' | 'stateless';
  description: string;
}
export interface Tenant extends Base {
  name: string;
  description: string;
}
export interface Domain extends Base {
  tenant: string;
  name: string;
  description: string;
  /** Absent in snapshots written before the field existed (= none). */
  outboundNat?: 'none' | 'pnat';
  /** Absent or null (the store writes null for an unset optional field): no L3 VNI, no type-5 routes. */
  l3Vni?: number | null;
  /** Set with l3Vni (derived when not given). */
  routeTarget?: string | null;
}
export interface RedirectionTarget extends Base {
  domain: string;
  name: string;
  mode: 'l2' | 'l3';
  vport: string | null;
  /** Absent in snapshots written before schema 5 (= no standby). */
  standbyVport?: string | null;
  /** Absent in snapshots written before the match fields existed (= any). */
  sourcePrefix?: string | null;
  destinationPrefix?: string | null;
  protocol?: 'any' | 'tcp' | 'udp' | 'icmp';
  portMin?: number | null;
  portMax?: number | null;
}
export interface FloatingIp extends Base {
  tenant: string;
  address: string;
  vport: string | null;
}
export interface Subnet extends Base {
  domain: string;
  name: string;
  vni: number;
  prefix: string;
  gateway: string;
  gatewayMac: string;
  routeTarget: string;
  description: string;
}
export interface Vport extends Base {
  subnet: string;
  hypervisor: string;
  name: string;
  mac: string;
  ip: string;
  securityGroups: string[];
  /** `none`: address-only (no VM port is created); absent in databases of schema 1 = `vm`. */
  attachment?: 'vm' | 'none';
  description: string;
}

export interface SecurityGroup extends Base {
  tenant: string;
  name: string;
  domain: string | null;
  sgid: number;
  description: string;
}
export interface SecurityRule extends Base {
  securityGroup: string;
  direction: 'ingress' | 'egress';
  protocol: 'any' | 'tcp' | 'udp' | 'icmp';
  portMin: number | null;
  portMax: number | null;
  remoteGroup: string | null;
  remotePrefix: string | null;
}

export interface ObjectsByCollection {
  zones: Zone;
  hypervisors: Hypervisor;
  tenants: Tenant;
  domains: Domain;
  subnets: Subnet;
  vports: Vport;
  securityGroups: SecurityGroup;
  securityRules: SecurityRule;
  floatingIps: FloatingIp;
  redirectionTargets: RedirectionTarget;
  gateways: Gateway;
  gatewayBindings: GatewayBinding;
}

export interface Gateway extends Base {
  name: string;
  zone: string;
  ovsdb: string;
  description: string;
}
export interface GatewayBinding extends Base {
  gateway: string;
  port: string;
  vlan: number;
  subnet: string;
  description: string;
}

export type AnyObject = Base & Record<string, unknown>;

export interface Change {
  revision: number;
  op: 'create' | 'update' | 'delete';
  collection: CollectionName;
  id: string;
  /** The object after the change; for delete, the object as it was. */
  object: AnyObject;
  /** For update: the object before the change. */
  previous?: AnyObject;
  at: string;
}

/** One operation of `POST /v1/batch`. */
export type BatchOperation =
  | { op: 'create'; collection: CollectionName; body: Record<string, unknown> }
  | { op: 'update'; collection: CollectionName; id: string; body: Record<string, unknown> }
  | { op: 'delete'; collection: CollectionName; id: string };

export interface BatchResult {
  op: BatchOperation['op'];
  collection: CollectionName;
  id: string;
  revision: number;
}

/** Operations per batch: one request body stays under the server's 1 MiB limit for typical objects. */
export const MAX_BATCH_OPERATIONS = 2000;

export interface Snapshot {
  revision: number;
  objects: { [K in CollectionName]: ObjectsByCollection[K][] };
}

/** The anycast gateway MAC derived from a VNI when none is given: locally administered 02:0a:00:<vni>. */
export function defaultGatewayMac(vni: number): string {
  const b = [(vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff];
  return ['02', '0a', '00', ...b.map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

export const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * An alarm a controller raised: runtime state, not a collection (no revision, no change stream, not
 * persisted). The controller PUTs it to `/v1/alarms/<id>`; operators and tests GET `/v1/alarms`.
 */
export interface DuplicateMacAlarm {
  id: string;
  kind: 'duplicate-mac';
  /** The controller and zone that detected it. */
  controller: string;
  zone: string;
  vni: number;
  mac: string;
  /** Where the MAC is frozen: the next hop and MAC mobility sequence its route keeps. */
  vtep: string;
  seq: number;
  /** The policy that tripped: `moves` moves within `windowSeconds`. */
  moves: number;
  windowSeconds: number;
  raisedAt: string;
}
export type Alarm = DuplicateMacAlarm;

/** The id a duplicate MAC alarm is stored under (one per zone, VNI and MAC). */
export function duplicateMacAlarmId(zone: string, vni: number, mac: string): string {
  return `duplicate-mac.${zone}.${vni}.${mac.toLowerCase().replaceAll(':', '')}`;
}
