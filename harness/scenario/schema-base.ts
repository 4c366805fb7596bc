/**
 * The scenario file's shape apart from the check and fault kinds: each kind adds its own fragment
 * (checks/index.ts, faults/index.ts) and buildScenarioSchema() puts them together.
 */
import type { Schema } from './schema.ts';

/** A floating IP and the VM it maps to (intent `floatingIps`, provision `setFloatingIps`). */
function floatingIpMapping(vm: Schema): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['ip', 'vm'],
    properties: { ip: { $ref: '#/definitions/ipv4' }, vm },
  };
}

export const BASE_SCHEMA: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://overlay-twin.invalid/scenario.schema.json',
  title: 'overlay-twin scenario',
  description: 'One scenario: metadata, intent and a timeline of steps. See docs/scenarios.md.',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'lab', 'timeline'],
  properties: {
    $schema: {
      type: 'string',
    },
    name: {
      type: 'string',
      minLength: 1,
      description: 'Scenario name (the Allure suite).',
    },
    description: {
      type: 'string',
    },
    conformance: {
      type: 'array',
      items: {
        $ref: '#/definitions/conformanceId',
      },
      description: 'Conformance IDs from conformance-catalogue.md this scenario establishes.',
    },
    tags: {
      type: 'array',
      items: {
        type: 'string',
        pattern: '^[A-Za-z0-9_.-]+$',
      },
    },
    severity: {
      $ref: '#/definitions/severity',
    },
    lab: {
      type: 'string',
      minLength: 1,
      description: 'Lab (containerlab topology) file, relative to the scenario file.',
    },
    implementation: {
      type: 'string',
      minLength: 1,
      description: 'Implementation driver (frr-evpn, reference, ...). Default frr-evpn.',
    },
    gateway: {
      description:
        'Gateway profile(s) the scenario runs against: `ovsdb` (an OVSDB hardware_vtep gateway managed by the controller) or `evpn` (an FRR EVPN VTEP), or a list of both (`otwin run --gateway` selects; the intent keeps only the gateways of the profile being run). The report shows it as the parameter `gateway profile`.',
      anyOf: [
        { enum: ['ovsdb', 'evpn'] },
        { type: 'array', minItems: 1, items: { enum: ['ovsdb', 'evpn'] } },
      ],
    },
    requires: {
      type: 'array',
      items: {
        type: 'string',
        minLength: 1,
      },
      description:
        'Kernel/machine features the scenario needs (vxlan, bridge, vrf, nftables, ...); missing ones skip the scenario.',
    },
    seed: {
      type: 'integer',
      minimum: 0,
      description: 'Seed for random choices (chaos). Default 1.',
    },
    budgets: {
      type: 'object',
      additionalProperties: false,
      properties: {
        convergence: {
          $ref: '#/definitions/duration',
        },
        sg: {
          $ref: '#/definitions/duration',
        },
        loss: {
          $ref: '#/definitions/duration',
        },
      },
    },
    intent: {
      $ref: '#/definitions/intent',
    },
    timeline: {
      type: 'array',
      minItems: 1,
      items: {
        $ref: '#/definitions/step',
      },
    },
  },
  definitions: {
    conformanceId: {
      type: 'string',
      pattern: '^[A-Z0-9]+-[0-9]+$',
    },
    severity: {
      enum: ['blocker', 'critical', 'normal', 'minor', 'trivial'],
    },
    duration: {
      description: 'A duration: `500ms`, `2s`, `1.5s`, `1m`, or a number of milliseconds.',
      anyOf: [
        {
          type: 'string',
          pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m)$',
        },
        {
          type: 'number',
          minimum: 0,
        },
      ],
    },
    name: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.:-]+$',
      maxLength: 63,
      description:
        'A name: letters, digits, _ . : -, at most 63 characters (it becomes part of namespace and file names).',
    },
    names: {
      type: 'array',
      items: {
        $ref: '#/definitions/name',
      },
    },
    ipv4: {
      type: 'string',
      pattern: '^[0-9]{1,3}(\\.[0-9]{1,3}){3}$',
    },
    cidr: {
      type: 'string',
      pattern: '^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$',
    },
    mac: {
      type: 'string',
      pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$',
    },
    proto: {
      enum: ['tcp', 'udp', 'icmp', 'any'],
    },
    ports: {
      description: 'Destination ports: numbers or `from-to` ranges.',
      type: 'array',
      items: {
        anyOf: [
          {
            type: 'integer',
            minimum: 1,
            maximum: 65535,
          },
          {
            type: 'string',
            pattern: '^[0-9]+-[0-9]+$',
          },
        ],
      },
    },
    probe: {
      description: 'A probe: `icmp`, `tcp/80`, `udp/53`; `tcp/40000 sport 80` sends from source port 80.',
      type: 'string',
      pattern: '^(icmp|(tcp|udp)/[0-9]+( sport [0-9]+)?)$',
    },
    intent: {
      type: 'object',
      additionalProperties: false,
      properties: {
        tenants: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: {
              name: {
                $ref: '#/definitions/name',
              },
            },
          },
        },
        domains: {
          description: 'Routing domains (L3 domains). Subnets of one domain route to each other.',
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'tenant'],
            properties: {
              name: {
                $ref: '#/definitions/name',
              },
              tenant: {
                $ref: '#/definitions/name',
              },
              vni: {
                type: 'integer',
                minimum: 1,
                maximum: 16777215,
              },
              routeTarget: {
                type: 'string',
                pattern: '^[0-9.]+:[0-9]+$',
                description: "Route target of the domain's EVPN type-5 routes (with vni, the L3 VNI).",
              },
              pnat: {
                type: 'boolean',
              },
              zone: {
                $ref: '#/definitions/name',
              },
            },
          },
        },
        subnets: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'domain', 'cidr', 'vni'],
            properties: {
              name: {
                $ref: '#/definitions/name',
              },
              domain: {
                $ref: '#/definitions/name',
              },
              cidr: {
                $ref: '#/definitions/cidr',
              },
              vni: {
                type: 'integer',
                minimum: 1,
                maximum: 16777215,
              },
              gateway: {
                $ref: '#/definitions/ipv4',
              },
              routeTarget: {
                type: 'string',
                pattern: '^[0-9.]+:[0-9]+$',
              },
            },
          },
        },
        vms: {
          description: 'VMs placed on hypervisors (lab nodes).',
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'subnet', 'hypervisor', 'ip'],
            properties: {
              name: {
                $ref: '#/definitions/name',
              },
              subnet: {
                $ref: '#/definitions/name',
              },
              hypervisor: {
                $ref: '#/definitions/name',
                description: "Lab node acting as the VM's hypervisor/VTEP.",
              },
              ip: {
                $ref: '#/definitions/ipv4',
              },
              mac: {
                $ref: '#/definitions/mac',
              },
              groups: {
                $ref: '#/definitions/names',
              },
              node: {
                $ref: '#/definitions/name',
                description: "Lab node that is the VM (default: the VM's name).",
              },
              iface: {
                type: 'string',
                description: "The VM's interface in its node (default eth1).",
              },
              port: {
                type: 'string',
                description: 'Hypervisor port the VM is plugged into (FRR labs).',
              },
              attached: {
                type: 'boolean',
                description: 'Attached from the start (default true).',
              },
            },
          },
        },
        groups: {
          description: 'Security groups.',
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: {
              name: {
                $ref: '#/definitions/name',
              },
              domain: {
                $ref: '#/definitions/name',
              },
            },
          },
        },
        rules: {
          description:
            'Allow rules between groups (stateful: replies pass). A domain with rules denies everything else.',
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['from', 'to'],
            properties: {
              from: {
                type: 'string',
                description: 'Group, `any`, or a CIDR.',
              },
              to: {
                type: 'string',
                description: 'Group, `any`, or a CIDR.',
              },
              proto: {
                $ref: '#/definitions/proto',
              },
              ports: {
                $ref: '#/definitions/ports',
              },
              domain: {
                $ref: '#/definitions/name',
              },
            },
          },
        },
        floatingIps: {
          type: 'array',
          items: floatingIpMapping({ $ref: '#/definitions/name' }),
        },
        externals: {
          description: 'Hosts outside the overlay (beyond a gateway or PE).',
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'ip'],
            properties: {
              name: {
                $ref: '#/definitions/name',
              },
              node: {
                $ref: '#/definitions/name',
              },
              ip: {
                $ref: '#/definitions/ipv4',
              },
              iface: {
                type: 'string',
              },
              domain: {
                $ref: '#/definitions/name',
                description:
                  "A site of this routing domain behind a PE's VRF (the domain's L3 VNI): reaches its VMs on their own addresses.",
              },
              gateway: {
                $ref: '#/definitions/name',
                description:
                  "On the outside segment of this L3 gateway (GW-8, the gateway's `routing`): reaches the VMs of the subnets it routes.",
              },
            },
          },
        },
        serviceChains: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'from', 'to', 'via'],
            properties: {
              name: {
                $ref: '#/definitions/name',
              },
              from: {
                type: 'string',
              },
              to: {
                type: 'string',
              },
              proto: {
                $ref: '#/definitions/proto',
              },
              ports: {
                $ref: '#/definitions/ports',
              },
              via: {
                $ref: '#/definitions/names',
              },
              standby: {
                description:
                  'Standby appliances (SVC-5): standby[i] takes over from via[i] when via[i] is unavailable.',
                $ref: '#/definitions/names',
              },
              mode: {
                enum: ['l3', 'l2'],
              },
            },
          },
        },
        zones: {
          description: 'Availability zones: hypervisors and their controllers / route reflectors.',
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: {
              name: {
                $ref: '#/definitions/name',
              },
              hypervisors: {
                $ref: '#/definitions/names',
              },
              controllers: {
                $ref: '#/definitions/names',
              },
            },
          },
        },
        gateways: {
          description:
            'Hardware VTEP gateways (OVSDB hardware_vtep): `name` is the lab node; each binding maps a physical port + VLAN to a subnet (the logical switch whose tunnel key is its VNI).',
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'tunnelIp', 'bindings'],
            properties: {
              name: { $ref: '#/definitions/name' },
              zone: { $ref: '#/definitions/name', description: 'The zone whose controllers manage it.' },
              tunnelIp: { $ref: '#/definitions/ipv4', description: "Its physical switch's tunnel IP." },
              ovsdb: {
                type: 'string',
                pattern: '^(tcp:[^:]+:[0-9]+|unix:.+)$',
                description: "OVSDB target; default: the node's `otwin.ovsdb` label.",
              },
              bindings: {
                type: 'array',
                minItems: 1,
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['port', 'subnet'],
                  properties: {
                    port: { type: 'string', minLength: 1 },
                    vlan: { type: 'integer', minimum: 0, maximum: 4094 },
                    subnet: { $ref: '#/definitions/name' },
                  },
                },
              },
              routing: {
                description:
                  "L3 gateway (GW-8, evpn profile): the gateway's kernel routes between its own address in each listed subnet and one outside segment; VMs of those subnets route the outside prefix via it.",
                type: 'object',
                additionalProperties: false,
                required: ['outside', 'interfaces'],
                properties: {
                  outside: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['port', 'address'],
                    properties: {
                      port: { type: 'string', minLength: 1 },
                      address: {
                        $ref: '#/definitions/cidr',
                        description: "The gateway's address on the outside segment, with its prefix length.",
                      },
                    },
                  },
                  interfaces: {
                    type: 'array',
                    minItems: 1,
                    items: {
                      type: 'object',
                      additionalProperties: false,
                      required: ['subnet', 'address'],
                      properties: {
                        subnet: { $ref: '#/definitions/name' },
                        address: {
                          $ref: '#/definitions/ipv4',
                          description: "The gateway's own address in the subnet (not its anycast gateway).",
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        bareMetal: {
          description:
            "Bare-metal hosts behind a gateway's port + VLAN: members of the subnet bound there (no security groups).",
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'gateway', 'port', 'ip'],
            properties: {
              name: { $ref: '#/definitions/name' },
              gateway: { $ref: '#/definitions/name' },
              port: { type: 'string', minLength: 1 },
              vlan: { type: 'integer', minimum: 0, maximum: 4094 },
              ip: { $ref: '#/definitions/ipv4' },
              mac: { $ref: '#/definitions/mac' },
              node: { $ref: '#/definitions/name', description: 'Lab node that is the host (default: name).' },
              iface: { type: 'string' },
            },
          },
        },
      },
    },
    step: {
      description:
        'One timeline step: exactly one of provision, expect, fault, wait, wait-until, measure, chaos.',
      type: 'object',
      additionalProperties: false,
      properties: {
        name: {
          type: 'string',
        },
        at: {
          $ref: '#/definitions/duration',
          description: 'Scenario-relative start time.',
        },
        precondition: {
          type: 'boolean',
          description:
            'On an expect or wait-until step: it establishes the state the next expectation starts from and is not an assertion of its own (no result, no conformance ID); it runs as a step of the next expectation, and when it does not hold that result is broken.',
        },
        provision: {
          $ref: '#/definitions/provision',
        },
        expect: {
          anyOf: [
            {
              $ref: '#/definitions/check',
            },
            {
              type: 'array',
              minItems: 1,
              items: {
                $ref: '#/definitions/check',
              },
            },
          ],
        },
        fault: {
          $ref: '#/definitions/fault',
        },
        wait: {
          $ref: '#/definitions/duration',
        },
        'wait-until': {
          $ref: '#/definitions/waitUntil',
        },
        measure: {
          $ref: '#/definitions/measure',
        },
        chaos: {
          $ref: '#/definitions/chaos',
        },
      },
    },
    provision: {
      description:
        'Apply an intent change through the implementation driver. `all` applies the whole intent.',
      anyOf: [
        {
          const: 'all',
        },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            attach: {
              $ref: '#/definitions/names',
            },
            detach: {
              $ref: '#/definitions/names',
            },
            move: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['vm', 'to'],
                properties: {
                  vm: {
                    $ref: '#/definitions/name',
                  },
                  to: {
                    $ref: '#/definitions/name',
                  },
                },
              },
            },
            setGroups: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['vm', 'groups'],
                properties: {
                  vm: {
                    $ref: '#/definitions/name',
                  },
                  groups: {
                    $ref: '#/definitions/names',
                  },
                },
              },
            },
            setFloatingIps: {
              description:
                'NAT-4: (re)assign floating IPs of the intent: each ip maps to vm from now on (null: unassigned).',
              type: 'array',
              items: floatingIpMapping({ anyOf: [{ $ref: '#/definitions/name' }, { type: 'null' }] }),
            },
            bulkMembers: {
              description:
                'SG-6: set the number of address-only members of a group (no VM namespaces), addresses from the top of an intent subnet down.',
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['group', 'count', 'subnet'],
                properties: {
                  group: { $ref: '#/definitions/name' },
                  count: { type: 'integer', minimum: 0 },
                  subnet: { $ref: '#/definitions/name' },
                  offset: { type: 'integer', minimum: 0 },
                },
              },
            },
            attempt: {
              type: 'boolean',
              description:
                'The change is attempted while the implementation may be unable to make it (its management plane is down): accepted or refused, the model keeps the intent unchanged, so the expectations that follow check it was programmed nowhere.',
            },
            refused: {
              type: 'string',
              minLength: 1,
              description:
                'The change must be refused with an error matching this regular expression (e.g. while the directory is down); the step becomes an expectation and the intent is left unchanged.',
            },
          },
        },
      ],
    },
    linkRef: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]+:[A-Za-z0-9_.@-]+$',
      description: 'node:interface',
    },
    fault: {
      type: 'object',
      additionalProperties: false,
      required: ['kind'],
      properties: {
        kind: {
          description: 'Filled in from the registered fault kinds (faults/index.ts).',
        },
        duration: {
          $ref: '#/definitions/duration',
          description: 'Revert the fault after this long.',
        },
      },
    },
    check: {
      description: 'Filled in from the registered check kinds (checks/index.ts).',
      type: 'object',
      additionalProperties: false,
      properties: {
        name: {
          type: 'string',
        },
        conformance: {
          type: 'array',
          items: {
            $ref: '#/definitions/conformanceId',
          },
        },
        severity: {
          $ref: '#/definitions/severity',
        },
        within: {
          $ref: '#/definitions/duration',
          description: 'Poll until it holds, up to this long.',
        },
      },
    },
    routeFields: {
      type: 'object',
      additionalProperties: false,
      properties: {
        vni: {
          type: 'integer',
        },
        mac: {
          $ref: '#/definitions/mac',
        },
        ip: {
          type: 'string',
        },
        vm: {
          $ref: '#/definitions/name',
          description: "Shorthand: the VM's MAC/IP.",
        },
        originator: {
          type: 'string',
          description: 'Originating VTEP IP, or a lab node name.',
        },
        nextHop: {
          type: 'string',
        },
        rd: {
          type: 'string',
        },
        rt: {
          type: 'string',
        },
        label: {
          type: 'integer',
        },
        pmsiTunnelType: {
          type: 'integer',
        },
        encapsulation: {
          type: 'integer',
        },
        prefix: {
          type: 'string',
        },
        routerMac: {
          type: 'string',
          description: "Router MAC extended community (type-5, RFC 9136 §4.1); '*': present, any value.",
        },
        gateway: {
          type: 'string',
          description: "Type-5 gateway IP address field (0.0.0.0 when the route's next hop is its VTEP).",
        },
        mobilitySeq: {
          type: 'integer',
        },
        communities: {
          type: 'array',
          items: {
            type: 'string',
          },
        },
      },
    },
    capturePoint: {
      type: 'object',
      additionalProperties: false,
      required: ['node', 'iface'],
      properties: {
        node: {
          $ref: '#/definitions/name',
        },
        iface: {
          type: 'string',
        },
        filter: {
          type: 'string',
        },
        count: {
          type: 'integer',
          minimum: 0,
          maximum: 100000,
          description: 'Packets expected (at most 100,000).',
        },
        min: {
          type: 'integer',
          minimum: 0,
          maximum: 100000,
          description: 'At least this many packets (at most 100,000).',
        },
        max: {
          type: 'integer',
          minimum: 0,
          maximum: 100000,
          description: 'At most this many packets (at most 100,000).',
        },
      },
    },
    send: {
      type: 'object',
      additionalProperties: false,
      required: ['from', 'type'],
      properties: {
        from: {
          type: 'string',
          description: 'VM or lab node.',
        },
        iface: {
          type: 'string',
        },
        type: {
          enum: ['arp', 'icmp', 'udp', 'raw'],
        },
        dst: {
          type: 'string',
        },
        dstMac: {
          anyOf: [
            {
              $ref: '#/definitions/mac',
            },
            {
              const: 'gateway',
            },
          ],
          description:
            'Destination MAC; `gateway`: the MAC the sender learned for its gateway in an earlier gateway check.',
        },
        port: {
          type: 'integer',
          minimum: 1,
          maximum: 65535,
        },
        count: {
          type: 'integer',
          minimum: 1,
          maximum: 10000,
          description: 'Packets to send (at most 10,000).',
        },
        hex: {
          type: 'string',
          pattern: '^[0-9a-fA-F]+$',
        },
      },
    },
    waitUntil: {
      type: 'object',
      additionalProperties: false,
      required: ['condition', 'deadline'],
      properties: {
        condition: {
          $ref: '#/definitions/check',
        },
        deadline: {
          $ref: '#/definitions/duration',
        },
        interval: {
          $ref: '#/definitions/duration',
        },
      },
    },
    measure: {
      type: 'object',
      additionalProperties: false,
      required: ['stream', 'during'],
      properties: {
        name: {
          type: 'string',
        },
        conformance: {
          type: 'array',
          items: {
            $ref: '#/definitions/conformanceId',
          },
        },
        stream: {
          type: 'object',
          additionalProperties: false,
          required: ['from', 'to'],
          properties: {
            from: {
              type: 'string',
            },
            to: {
              type: 'string',
            },
            proto: {
              enum: ['udp', 'icmp', 'tcp'],
            },
            port: {
              type: 'integer',
              minimum: 1,
              maximum: 65535,
            },
            interval: {
              $ref: '#/definitions/duration',
            },
          },
        },
        maxLossWindow: {
          $ref: '#/definitions/duration',
        },
        maxLossBeyondFaults: {
          $ref: '#/definitions/duration',
          description:
            'Instead of maxLossWindow: the bound is the time the faults inside this measure were actually held (start of the first apply to end of the last revert) plus this (e.g. T_conv: "back within T_conv after it heals").',
        },
        maxLost: {
          type: 'integer',
          minimum: 0,
        },
        during: {
          type: 'array',
          minItems: 1,
          items: {
            $ref: '#/definitions/step',
          },
        },
      },
    },
    chaos: {
      type: 'object',
      additionalProperties: false,
      required: ['window', 'faults'],
      properties: {
        seed: {
          type: 'integer',
          minimum: 0,
        },
        window: {
          $ref: '#/definitions/duration',
        },
        count: {
          type: 'integer',
          minimum: 1,
          maximum: 1000,
          description: 'Faults drawn (at most 1,000).',
        },
        duration: {
          description: 'How long each fault lasts: one duration or [min, max].',
          anyOf: [
            {
              $ref: '#/definitions/duration',
            },
            {
              type: 'array',
              minItems: 2,
              maxItems: 2,
              items: {
                $ref: '#/definitions/duration',
              },
            },
          ],
        },
        settle: {
          $ref: '#/definitions/duration',
        },
        faults: {
          type: 'array',
          minItems: 1,
          items: {
            $ref: '#/definitions/fault',
          },
        },
      },
    },
  },
};
