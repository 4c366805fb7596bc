"""Route replacement by rtnetlink for the agent's persistent session (nft_session.py): what
`ip route replace default via GW dev DEV onlink table T` does, without an `ip` process (a service
chain's failover, reference-impl/agent/redirect.ts, is one such route per redirection).

The netlink socket and the interface lookup must happen inside the target namespace: the caller
enters it with setns() first and leaves it afterwards.
"""
import os
import socket
import struct

RTM_NEWROUTE = 24
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_REPLACE = 0x100
NLM_F_CREATE = 0x400
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_TABLE = 15
RT_TABLE_UNSPEC = 0
RTPROT_BOOT = 3  # what `ip route` sets by default
RT_SCOPE_UNIVERSE = 0
RTN_UNICAST = 1
RTNH_F_ONLINK = 4


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def default_route(gateway, oif, table, flags=0):
    """The RTM_NEWROUTE body of a default route via `gateway` out of interface index `oif` in `table`."""
    rtmsg = struct.pack(
        "=BBBBBBBBI",
        socket.AF_INET,
        0,  # dst_len: default route
        0,
        0,
        table if table < 256 else RT_TABLE_UNSPEC,
        RTPROT_BOOT,
        RT_SCOPE_UNIVERSE,
        RTN_UNICAST,
        flags,
    )
    return (
        rtmsg
        + attr(RTA_TABLE, struct.pack("=I", table))
        + attr(RTA_GATEWAY, socket.inet_aton(gateway))
        + attr(RTA_OIF, struct.pack("=I", oif))
    )


def ack(sock, seq):
    """The kernel's answer to request `seq`: 0 or a negative errno."""
    while True:
        data = sock.recv(65536)
        offset = 0
        while offset + 16 <= len(data):
            length, kind, _, got_seq, _ = struct.unpack_from("=IHHII", data, offset)
            if kind == NLMSG_ERROR and got_seq == seq:
                return struct.unpack_from("=i", data, offset + 16)[0]
            offset += (length + 3) & ~3


def replace_default(sock, seq, gateway, dev, table):
    """One RTM_NEWROUTE (create or replace) of a default route; raises OSError with the kernel's errno."""
    body = default_route(gateway, socket.if_nametoindex(dev), table, RTNH_F_ONLINK)
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE | NLM_F_CREATE
    sock.send(struct.pack("=IHHII", 16 + len(body), RTM_NEWROUTE, flags, seq, 0) + body)
    error = ack(sock, seq)
    if error:
        raise OSError(-error, f"route replace default via {gateway} dev {dev} table {table}: {os.strerror(-error)}")


def replace_defaults(routes):
    """Replaces each {"gateway", "dev", "table"} in the current namespace (one netlink socket)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        sock.bind((0, 0))
        for seq, r in enumerate(routes, start=1):
            replace_default(sock, seq, r["gateway"], r["dev"], int(r["table"]))
    finally:
        sock.close()
