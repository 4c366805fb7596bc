"""Entering a named network namespace for a moment, shared by the agent's persistent helpers
(nft_session.py, appliance_prober.py): sockets and libnftables contexts created inside stay bound to
that namespace after the helper returns to its own.
"""
import contextlib
import ctypes
import os

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
HOME = os.open("/proc/self/ns/net", os.O_RDONLY)


def netns_path(ns):
    """/run/netns/<ns>, refusing a name that would leave that folder."""
    if not ns or "/" in ns or ns.startswith("."):
        raise ValueError(f"bad namespace name {ns!r}")
    return f"/run/netns/{ns}"


@contextlib.contextmanager
def inside(ns):
    """Runs the block inside namespace `ns`, then returns to the helper's own."""
    path = netns_path(ns)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}: {os.strerror(ctypes.get_errno())}")
        try:
            yield
        finally:
            if libc.setns(HOME, CLONE_NEWNET) != 0:
                # Everything created later would land in the wrong namespace: better to die and be restarted.
                os._exit(3)
    finally:
        os.close(fd)
