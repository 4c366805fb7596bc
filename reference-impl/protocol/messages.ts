/**
 * The controller ↔ agent protocol, version 1: JSON lines over TCP (one JSON object per line, UTF-8).
 *
 *   agent → controller  hello {versions:[1], agent, zone, vtep}
 *   controller → agent  welcome {version, controller, heartbeatMs, deadAfterMs}   or error {code:'version'} + close
 *   controller → agent  sync {epoch, seq, entries}       full desired state of this hypervisor
 *   controller → agent  update {epoch, seq, set, del}    incremental: entries to set, keys to delete
 *   agent → controller  ack {epoch, seq, applied, errors}  after the kernel has been programmed
 *   agent → controller  report {vports:[{id, state, error?}]}   local attachment status
 *   agent → controller  miss {vni, ip}                   ARP/neighbour miss: controller answers with an update
 *   both                heartbeat {ts}                   every heartbeatMs; silence for deadAfterMs = dead
 *
 * State is a set of keyed entries; `seq` increases by one per sync/update within an `epoch` (a new
 * epoch per connection), so the agent detects a gap and asks for a resync (`resync {}`). An agent may
 * be connected to several controllers of its zone at once: it keeps one view per controller and
 * programs the union of the views of the controllers currently connected (by entry key; on conflict the
 * entry with the higher MAC mobility sequence wins). With no controller connected it keeps the last
 * programmed state (headless) and never removes anything.
 */

export const PROTOCOL_VERSION = 1;
export const SUPPORTED_VERSIONS = [1] as const;

export interface DomainEntry {
  kind: 'domain';
  id: string;
  tenant: string;
}

export interface SubnetEntry {
  kind: 'subnet';
  id: string;
  domain: string;
  vni: number;
  prefix: string;
  gateway: string;
  gatewayMac: string;
}

/** A VM attached to this hypervisor. */
export interface VportEntry {
  kind: 'vport';
  id: string;
  subnet: string;
  vni: number;
  mac: string;
  ip: string;
}

/** A remote VM: MAC (and IP) behind another VTEP. */
export interface MacEntry {
  kind: 'mac';
  vni: number;
  mac: string;
  ip: string | undefined;
  vtep: string;
  /** MAC mobility sequence (0 when never moved). */
  seq: number;
}

/** A remote VTEP that takes BUM traffic of a VNI (ingress replication). */
export interface FloodEntry {
  kind: 'flood';
  vni: number;
  vtep: string;
}

export type Entry = DomainEntry | SubnetEntry | VportEntry | MacEntry | FloodEntry;

export function entryKey(entry: Entry): string {
  switch (entry.kind) {
    case 'domain':
      return `domain/${entry.id}`;
    case 'subnet':
      return `subnet/${entry.id}`;
    case 'vport':
      return `vport/${entry.id}`;
    case 'mac':
      return `mac/${entry.vni}/${entry.mac}`;
    case 'flood':
      return `flood/${entry.vni}/${entry.vtep}`;
  }
}

export interface Hello {
  type: 'hello';
  versions: number[];
  agent: string;
  zone: string | undefined;
  vtep: string;
}
export interface Welcome {
  type: 'welcome';
  version: number;
  controller: string;
  heartbeatMs: number;
  deadAfterMs: number;
}
export interface ErrorMessage {
  type: 'error';
  code: 'version' | 'unknown_agent' | 'protocol';
  message: string;
}
export interface Sync {
  type: 'sync';
  epoch: string;
  seq: number;
  entries: Entry[];
}
export interface Update {
  type: 'update';
  epoch: string;
  seq: number;
  set: Entry[];
  del: string[];
}
export interface Ack {
  type: 'ack';
  epoch: string;
  seq: number;
  applied: boolean;
  errors: string[];
}
export interface Report {
  type: 'report';
  vports: Array<{ id: string; state: 'up' | 'down' | 'error'; error?: string }>;
}
export interface Miss {
  type: 'miss';
  vni: number;
  ip: string;
}
export interface Resync {
  type: 'resync';
}
export interface Heartbeat {
  type: 'heartbeat';
  ts: number;
}

export type ControllerMessage = Welcome | ErrorMessage | Sync | Update | Heartbeat;
export type AgentMessage = Hello | Ack | Report | Miss | Resync | Heartbeat;

/** Splits a byte stream into JSON lines. */
export class LineDecoder {
  private buffer = '';
  constructor(
    private readonly onMessage: (message: unknown) => void,
    private readonly maxLine = 64 * 1024 * 1024,
  ) {}

  push(chunk: Buffer | string): void {
    this.buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    for (;;) {
      const nl = this.buffer.indexOf('\n');
      if (nl < 0) break;
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim() === '') continue;
      this.onMessage(JSON.parse(line));
    }
    if (this.buffer.length > this.maxLine) throw new Error('protocol line too long');
  }
}

export function encode(message: ControllerMessage | AgentMessage): string {
  return `${JSON.stringify(message)}\n`;
}
