"""Shared by every part: the JSON-lines output, the error the client sees, the clock, and scapy (imported once, lazily)."""

import json
import sys
import threading
import time



CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
SIOCGIFHWADDR = 0x8927
SIOCGIFADDR = 0x8915
SO_ATTACH_FILTER = 26
PKTTYPES = {0: "in", 1: "broadcast", 2: "multicast", 3: "otherhost", 4: "out"}

_out_lock = threading.Lock()


def emit(obj):
    line = json.dumps(obj, separators=(",", ":"), default=_json_default)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _json_default(value):
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    try:
        return int(value)
    except Exception:
        return str(value)


class ProbeFailure(Exception):
    """An error reported to the client with a kind."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def mono_ms():
    return time.monotonic() * 1000.0


# ---------------------------------------------------------------------------------------------------
# scapy, imported once, lazily

_scapy = None
_scapy_lock = threading.Lock()


def scapy():
    global _scapy
    if _scapy is not None:
        return _scapy
    with _scapy_lock:
        if _scapy is None:
            try:
                import scapy.all as sa  # noqa: F401
                from scapy.layers.vxlan import VXLAN
                from scapy.arch.common import compile_filter
                from scapy.arch.linux import sock_fprog
            except ImportError as exc:
                raise ProbeFailure("missing-scapy", "scapy is not importable by %s (%s): install the Debian package python3-scapy" % (sys.executable, exc))
            sa.conf.verb = 0
            _scapy = {
                "all": sa,
                "layers": {
                    "Ether": sa.Ether,
                    "Dot1Q": sa.Dot1Q,
                    "ARP": sa.ARP,
                    "IP": sa.IP,
                    "IPv6": sa.IPv6,
                    "TCP": sa.TCP,
                    "UDP": sa.UDP,
                    "ICMP": sa.ICMP,
                    "VXLAN": VXLAN,
                    "Raw": sa.Raw,
                    "Padding": sa.Padding,
                },
                "compile_filter": compile_filter,
                "sock_fprog": sock_fprog,
            }
    return _scapy


def scapy_loaded():
    return _scapy is not None
