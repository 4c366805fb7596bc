/**
 * What the agent's long-lived helper processes share (nft_session.py, appliance_prober.py, the
 * `ip`/`bridge` batch sessions): the interpreter, and access to their pipes' ref/unref.
 */
import type { Socket } from 'node:net';

/** scapy, python3-nftables and the agent's other helpers are Debian packages: only the system interpreter has them. */
export const PYTHON = '/usr/bin/python3';

/** A child's pipes are sockets: ref/unref decide whether they keep the agent's process alive. */
export const socketOf = (stream: unknown) => stream as Socket;
