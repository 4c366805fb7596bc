/**
 * Gratuitous ARP observation on the VM ports (catalogue ARP-3). One long-lived `tcpdump` per router
 * namespace (`-i any -Q in`, BPF: ARP whose sender IP equals its target IP, i.e. a gratuitous ARP
 * request or reply) prints each packet's receiving interface and its bytes (Linux cooked v2 header,
 * 20 bytes, then the ARP packet). Only packets received on a VM port (`vp…`: sent by the VM) are
 * reported; copies the bridge floods out of other ports are outgoing and not captured, and GARPs
 * arriving from the underlay come in on `vx…` and are ignored (their own agent reports them).
 *
 * Kernel monitors were considered: the proxy entries are PERMANENT neighbours (the kernel never
 * changes them on an ARP) and bridge fdb learning sees every new source MAC without its IP, so neither
 * tells "this VM now answers for its address with MAC X". Node has no AF_PACKET socket.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { statSync } from 'node:fs';

export interface Garp {
  /** Router namespace and interface (a VM port) it was received on. */
  ns: string;
  ifname: string;
  /** ARP sender hardware and protocol address. */
  mac: string;
  ip: string;
}

const FILTER = 'arp and arp[14:4] = arp[24:4]';
const SLL2_HEADER = 20;

/** Parses tcpdump `-n -xx` output (`-i any`) into GARPs; exported for tests. */
export class GarpParser {
  private ifname: string | undefined;
  private hex = '';

  constructor(private readonly onPacket: (ifname: string, mac: string, ip: string) => void) {}

  line(text: string): void {
    const data = /^\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{2,4}\s?)+)/.exec(text);
    if (data && this.ifname !== undefined) {
      this.hex += (data[1] ?? '').replace(/\s+/g, '');
      this.flush();
      return;
    }
    // Header line: `<time> <ifname> <direction> ARP, ...`.
    const head = /^\S+\s+(\S+)\s+\S+\s+ARP\b/.exec(text);
    this.ifname = head ? head[1] : undefined;
    this.hex = '';
  }

  private flush(): void {
    const need = (SLL2_HEADER + 28) * 2;
    if (this.hex.length < need || this.ifname === undefined) return;
    const arp = this.hex.slice(SLL2_HEADER * 2, need);
    const ifname = this.ifname;
    this.ifname = undefined;
    this.hex = '';
    // htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4.
    if (arp.slice(0, 12) !== '000108000604') return;
    const mac = (arp.slice(16, 28).match(/../g) ?? []).join(':');
    const ip = (arp.slice(28, 36).match(/../g) ?? []).map((b) => Number.parseInt(b, 16)).join('.');
    this.onPacket(ifname, mac, ip);
  }
}

/** The inode of a named namespace's mount (undefined: not mounted), which tells a re-created namespace. */
function namespaceInode(ns: string): number | undefined {
  try {
    return statSync(`/run/netns/${ns}`).ino;
  } catch {
    return undefined;
  }
}

export class GarpWatcher {
  private readonly procs = new Map<string, ChildProcess>();
  /** The namespace inode each watcher entered: a tcpdump keeps a deleted namespace alive and sees nothing. */
  private readonly inodes = new Map<string, number | undefined>();
  private stopped = false;

  constructor(
    private readonly onGarp: (garp: Garp) => void,
    private readonly log: (line: string) => void,
  ) {}

  /** Watches exactly these router namespaces (starts missing watchers, stops the others). */
  watch(namespaces: Iterable<string>): void {
    if (this.stopped) return;
    const want = new Set(namespaces);
    for (const [ns, proc] of this.procs) {
      // A router namespace deleted and re-created under its name between two passes: watch the new one.
      if (!want.has(ns) || namespaceInode(ns) !== this.inodes.get(ns)) {
        this.procs.delete(ns);
        proc.kill();
      }
    }
    for (const ns of want) if (!this.procs.has(ns)) this.start(ns);
  }

  private start(ns: string): void {
    this.inodes.set(ns, namespaceInode(ns));
    const proc = spawn(
      'ip',
      ['netns', 'exec', ns, 'tcpdump', '-l', '-n', '-U', '-i', 'any', '-Q', 'in', '-xx', FILTER],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    this.procs.set(ns, proc);
    const parser = new GarpParser((ifname, mac, ip) => {
      if (/^vp[0-9a-f]{12}$/.test(ifname)) this.onGarp({ ns, ifname, mac, ip });
    });
    let rest = '';
    proc.stdout?.setEncoding('utf8');
    proc.stdout?.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) parser.line(line);
    });
    proc.on('error', (err) => this.log(`gratuitous ARP watcher in ${ns}: ${err.message}`));
    proc.on('exit', (code) => {
      if (this.procs.get(ns) !== proc) return;
      this.procs.delete(ns);
      if (this.stopped) return;
      this.log(`gratuitous ARP watcher in ${ns} exited (${code}); restarting in 1 s`);
      setTimeout(() => {
        if (!this.stopped && !this.procs.has(ns)) this.start(ns);
      }, 1000).unref();
    });
  }

  stop(): void {
    this.stopped = true;
    for (const proc of this.procs.values()) proc.kill();
    this.procs.clear();
  }
}
