"""A VM namespace's `ip -batch` lines by rtnetlink, for the agent's persistent session (nft_session.py):
an attach configures the new VM's eth0 (MAC, MTU, up, address, default route) and lo without starting
an `ip` process. That process was the attach's largest stage on a busy machine (30-90 ms to start,
growing with the load), where a request to the running helper costs about a millisecond.

Only the line forms the planner writes for VM namespaces (reference-impl/agent/plan.ts, planVms, and
the `link set lo up` kernel.ts adds) are understood; `parse` returns None for anything else and the
caller runs `ip` as before. Like `ip -force -batch`, every line is tried and each failure is reported
with its line number and the kernel's error.

The netlink socket and the interface lookups must happen inside the target namespace: the caller
enters it with setns() first and leaves it afterwards.
"""
import ipaddress
import os
import re
import socket
import struct

from rtnl_routes import (
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_REPLACE,
    NLM_F_REQUEST,
    RT_SCOPE_UNIVERSE,
    RTM_NEWROUTE,
    ack,
    attr,
    default_route,
)

RTM_NEWLINK = 16
RTM_NEWADDR = 20
RTM_DELADDR = 21
NLM_F_EXCL = 0x200
IFLA_ADDRESS = 1
IFLA_MTU = 4
IFA_ADDRESS = 1
IFA_LOCAL = 2
RT_TABLE_MAIN = 254
IFF_UP = 1

_DEV = r"(?P<dev>[A-Za-z0-9_.-]{1,15})"
_LINK = re.compile(
    rf"^link set {_DEV}(?: address (?P<mac>[0-9a-fA-F]{{2}}(?::[0-9a-fA-F]{{2}}){{5}}))?(?: mtu (?P<mtu>\d+))?(?: (?P<state>up|down))?$"
)
_ADDR = re.compile(rf"^addr (?P<op>add|del) (?P<cidr>\d+\.\d+\.\d+\.\d+/\d+) dev {_DEV}$")
_ROUTE = re.compile(rf"^route replace default via (?P<gw>\d+\.\d+\.\d+\.\d+) dev {_DEV}$")


def parse(lines):
    """The lines as operations, or None when one of them is not a form this module handles."""
    ops = []
    for line in lines:
        for kind, pattern in (("link", _LINK), ("addr", _ADDR), ("route", _ROUTE)):
            m = pattern.match(line)
            if m:
                if kind == "link" and not (m["mac"] or m["mtu"] or m["state"]):
                    return None
                ops.append((kind, m.groupdict()))
                break
        else:
            return None
    return ops


def _message(op):
    kind, a = op
    index = socket.if_nametoindex(a["dev"])
    if kind == "link":
        up = a["state"] == "up"
        flags, change = (IFF_UP if up else 0, IFF_UP) if a["state"] else (0, 0)
        body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, change)
        if a["mtu"]:
            body += attr(IFLA_MTU, struct.pack("=I", int(a["mtu"])))
        if a["mac"]:
            body += attr(IFLA_ADDRESS, bytes.fromhex(a["mac"].replace(":", "")))
        return RTM_NEWLINK, 0, body
    if kind == "addr":
        iface = ipaddress.IPv4Interface(a["cidr"])
        packed = iface.ip.packed
        body = struct.pack("=BBBBI", socket.AF_INET, iface.network.prefixlen, 0, RT_SCOPE_UNIVERSE, index)
        body += attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
        if a["op"] == "add":
            return RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body
        return RTM_DELADDR, 0, body
    return RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, default_route(a["gw"], index, RT_TABLE_MAIN)


def apply(ops, lines):
    """Applies parsed `ops` (from `parse(lines)`) in the current namespace, each line even after a
    failure; returns the failures as `ip -batch` would name them ("Command failed -:N" and why)."""
    errors = []
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        sock.bind((0, 0))
        for seq, (op, line) in enumerate(zip(ops, lines), start=1):
            try:
                kind, extra, body = _message(op)
            except OSError:
                errors.append(f'{line}: Cannot find device "{op[1]["dev"]}" (Command failed -:{seq})')
                continue
            sock.send(struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | extra, seq, 0) + body)
            error = ack(sock, seq)
            if error:
                errors.append(f"{line}: RTNETLINK answers: {os.strerror(-error)} (Command failed -:{seq})")
    finally:
        sock.close()
    return errors
