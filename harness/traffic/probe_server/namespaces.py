"""Network namespaces: one worker thread per namespace creates the sockets there; interface facts."""

import asyncio
import concurrent.futures
import ctypes
import fcntl
import os
import socket
import struct

from .common import CLONE_NEWNET, ProbeFailure, SIOCGIFADDR, SIOCGIFHWADDR


_libc = ctypes.CDLL(None, use_errno=True)

# The namespace the server itself runs in (the exec transport starts one server inside each node).
OWN = "self"


def stat_path(path):
    return "/proc/self/ns/net" if path == OWN else path


class Namespace:
    """A worker thread living in one network namespace, used to create sockets there."""

    def __init__(self, path):
        self.path = path
        st = os.stat(stat_path(path))
        self.ident = (st.st_dev, st.st_ino)
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ns")
        if path != OWN:
            self.executor.submit(self._enter).result()
        self.icmp = None  # shared ICMP dispatcher, created on first use

    def _enter(self):
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise ProbeFailure("unknown-namespace", "setns(%s): %s" % (self.path, os.strerror(err)))
        finally:
            os.close(fd)

    async def call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def socket(self, family, type_, proto=0):
        sock = await self.call(socket.socket, family, type_, proto)
        sock.setblocking(False)
        return sock

    def close(self):
        if self.icmp is not None:
            self.icmp.close()
        self.executor.shutdown(wait=True)


class Namespaces:
    def __init__(self):
        self.by_path = {}
        self.lock = asyncio.Lock()

    async def get(self, path):
        if not isinstance(path, str) or not path:
            raise ProbeFailure("bad-request", "missing netns path")
        try:
            st = os.stat(stat_path(path))
        except OSError as exc:
            raise ProbeFailure("unknown-namespace", "network namespace %s does not exist (%s)" % (path, exc.strerror))
        ns = self.by_path.get(path)
        if ns is not None and ns.ident == (st.st_dev, st.st_ino):
            return ns
        async with self.lock:
            ns = self.by_path.get(path)
            if ns is not None and ns.ident != (st.st_dev, st.st_ino):
                # The name now points at a new namespace: retire the thread holding the old one.
                self.by_path.pop(path, None)
                await asyncio.get_running_loop().run_in_executor(None, ns.close)
                ns = None
            if ns is None:
                try:
                    ns = await asyncio.get_running_loop().run_in_executor(None, Namespace, path)
                except ProbeFailure:
                    raise
                except OSError as exc:
                    raise ProbeFailure("unknown-namespace", "cannot enter network namespace %s: %s" % (path, exc.strerror or exc))
                self.by_path[path] = ns
            return ns

    def release(self, path):
        ns = self.by_path.pop(path, None)
        if ns is not None:
            ns.close()

    def close_all(self):
        for path in list(self.by_path):
            self.release(path)


NAMESPACES = Namespaces()


def parse_addr(addr):
    try:
        socket.inet_pton(socket.AF_INET, addr)
        return socket.AF_INET
    except (OSError, TypeError):
        pass
    try:
        socket.inet_pton(socket.AF_INET6, addr)
        return socket.AF_INET6
    except (OSError, TypeError):
        raise ProbeFailure("bad-request", "not an IP address: %r" % (addr,))


def if_info(ifname):
    """(mac, ipv4 or None) of an interface; must run in the namespace thread."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        try:
            raw = fcntl.ioctl(s.fileno(), SIOCGIFHWADDR, struct.pack("256s", ifname.encode()[:15]))
        except OSError as exc:
            raise ProbeFailure("bad-request", "no interface %s: %s" % (ifname, exc.strerror))
        mac = ":".join("%02x" % b for b in raw[18:24])
        try:
            raw = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", ifname.encode()[:15]))
            ip = socket.inet_ntoa(raw[20:24])
        except OSError:
            ip = None
        return mac, ip
    finally:
        s.close()


def list_interfaces():
    result = []
    for index, name in socket.if_nameindex():
        try:
            mac, _ = if_info(name)
        except ProbeFailure:
            mac = None
        result.append({"ifname": name, "ifindex": index, "mac": mac})
    return result
