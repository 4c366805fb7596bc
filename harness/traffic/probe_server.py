#!/usr/bin/python3
"""overlay-twin probe server: one long-lived process serving probes in many network namespaces.

Protocol: one JSON object per line on stdin ({"id", "op", ...}); one JSON object per line on stdout
({"id", "ok": true, "result"} or {"id", "ok": false, "kind", "error"}). Unsolicited lines carry
"event" instead of "id" (the first is {"event": "hello"}).

Namespaces: sockets are created by a worker thread that entered the target namespace with
setns(fd, CLONE_NEWNET) (ctypes, libc); a socket stays in the namespace it was created in, so all I/O
then runs on the asyncio loop of the main thread. Blocking work (scapy import, packet building)
runs in thread executors. scapy's interface table belongs to the namespace the process started in,
so frames are sent and sniffed on our own AF_PACKET sockets, and source MACs come from SIOCGIFHWADDR
on a socket of the right namespace.
"""

import asyncio
import concurrent.futures
import ctypes
import errno
import fcntl
import importlib.util
import itertools
import json
import os
import socket
import struct
import sys
import threading
import time
import traceback

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
SIOCGIFHWADDR = 0x8927
SIOCGIFADDR = 0x8915
SO_ATTACH_FILTER = 26
PKTTYPES = {0: "in", 1: "broadcast", 2: "multicast", 3: "otherhost", 4: "out"}

_libc = ctypes.CDLL(None, use_errno=True)
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


# ---------------------------------------------------------------------------------------------------
# namespaces


class Namespace:
    """A worker thread living in one network namespace, used to create sockets there."""

    def __init__(self, path):
        self.path = path
        st = os.stat(path)
        self.ident = (st.st_dev, st.st_ino)
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ns")
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
            st = os.stat(path)
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


# ---------------------------------------------------------------------------------------------------
# verdict helpers

REFUSED_ERRNOS = {errno.ECONNREFUSED, errno.EACCES, errno.EPERM, errno.EHOSTUNREACH, errno.ENETUNREACH}


def classify_oserror(exc, local):
    code = exc.errno
    name = errno.errorcode.get(code, str(code))
    if code == errno.ECONNREFUSED:
        return "refused", name
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH) and local:
        return "unreachable", name
    if code in REFUSED_ERRNOS:
        return "refused", name
    return "error", "%s: %s" % (name, exc.strerror)


RANK = {"allowed": 0, "refused": 1, "unreachable": 2, "dropped": 3, "error": 4}


async def run_mode(req, attempt):
    """Runs `attempt(timeout_s)` -> (verdict, rtt_ms, detail) per the request's mode."""
    mode = req.get("mode", "single")
    timeout = float(req.get("timeoutMs", 1000)) / 1000.0
    start = time.monotonic()
    deadline = start + timeout
    attempts = 0
    best = None
    if mode == "single":
        attempts = 1
        best = await attempt(timeout)
    else:
        per = float(req.get("attemptMs", 250)) / 1000.0 if mode == "positive" else timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0.001 and attempts > 0:
                break
            attempts += 1
            res = await attempt(max(0.001, min(per, remaining)))
            if res[0] == "allowed":
                best = res
                break
            if best is None or (mode == "hold" and RANK[res[0]] < RANK[best[0]]) or mode == "positive":
                best = res
            if res[0] == "error":
                break
            left = deadline - time.monotonic()
            if left <= 0.001:
                break
            if res[0] in ("refused", "unreachable"):
                # Quick failure: pause a little and try again (a rule may still change in the window).
                await asyncio.sleep(min(0.02, left))
    verdict, rtt, detail = best
    out = {"verdict": verdict, "attempts": attempts, "elapsedMs": round((time.monotonic() - start) * 1000.0, 3)}
    if rtt is not None:
        out["rttMs"] = round(rtt, 3)
    if detail:
        out["detail"] = detail
    return out


# ---------------------------------------------------------------------------------------------------
# TCP / UDP / ICMP probes


async def op_tcp(req):
    ns = await NAMESPACES.get(req.get("ns"))
    family = parse_addr(req["to"])
    port = int(req["port"])
    loop = asyncio.get_running_loop()

    async def attempt(timeout):
        sock = await ns.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            t0 = time.monotonic()
            try:
                await asyncio.wait_for(loop.sock_connect(sock, (req["to"], port)), timeout)
                return "allowed", (time.monotonic() - t0) * 1000.0, None
            except asyncio.TimeoutError:
                return "dropped", None, "no answer in %d ms" % round(timeout * 1000)
            except OSError as exc:
                # ENETUNREACH raised before anything was sent is local; after a SYN it came by ICMP.
                local = (time.monotonic() - t0) < 0.001
                v, d = classify_oserror(exc, local)
                return v, None, d
        finally:
            sock.close()

    return await run_mode(req, attempt)


_nonce = itertools.count(1)


async def op_udp(req):
    ns = await NAMESPACES.get(req.get("ns"))
    family = parse_addr(req["to"])
    port = int(req["port"])
    loop = asyncio.get_running_loop()

    async def attempt(timeout):
        sock = await ns.socket(family, socket.SOCK_DGRAM)
        try:
            t0 = time.monotonic()
            try:
                sock.connect((req["to"], port))
            except OSError as exc:
                v, d = classify_oserror(exc, True)
                return v, None, d
            nonce = b"otc-udp-%d-%d" % (os.getpid(), next(_nonce))
            deadline = t0 + timeout
            next_send = t0
            # Resend every 50 ms inside the attempt: a single lost datagram (ARP warm-up) is not a drop.
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return "dropped", None, "no echo in %d ms" % round(timeout * 1000)
                if now >= next_send:
                    try:
                        sock.send(nonce)
                    except OSError as exc:
                        v, d = classify_oserror(exc, exc.errno in (errno.ENETUNREACH,))
                        return v, None, d
                    next_send = now + 0.05
                try:
                    data = await asyncio.wait_for(loop.sock_recv(sock, 2048), min(deadline, next_send) - now)
                except asyncio.TimeoutError:
                    continue
                except OSError as exc:
                    v, d = classify_oserror(exc, False)
                    return v, None, d
                if data == nonce:
                    return "allowed", (time.monotonic() - t0) * 1000.0, None
        finally:
            sock.close()

    return await run_mode(req, attempt)


def icmp_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF


class IcmpDispatcher:
    """One raw ICMP socket per (namespace, family); replies routed to waiters by (id, seq)."""

    def __init__(self, sock4, sock6):
        self.socks = {socket.AF_INET: sock4, socket.AF_INET6: sock6}
        self.waiters = {}
        self.listeners = {}  # id -> callback(seq, arrival_mono_ms, src)
        loop = asyncio.get_running_loop()
        for fam, s in self.socks.items():
            if s is not None:
                loop.add_reader(s.fileno(), self._readable, fam)

    def _readable(self, fam):
        s = self.socks[fam]
        while True:
            try:
                data, addr = s.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            now = mono_ms()
            if fam == socket.AF_INET:
                ihl = (data[0] & 0x0F) * 4
                icmp = data[ihl:]
                reply_type = 0
                errors = (3, 11)
            else:
                icmp = data
                reply_type = 129
                errors = (1, 3)
            if len(icmp) < 8:
                continue
            typ, code = icmp[0], icmp[1]
            if typ == reply_type:
                ident, seq = struct.unpack("!HH", icmp[4:8])
                self._deliver(ident, seq, now, "allowed", None, addr[0])
            elif typ in errors and len(icmp) >= 8:
                inner = icmp[8:]
                if fam == socket.AF_INET and len(inner) >= 20:
                    ihl2 = (inner[0] & 0x0F) * 4
                    orig = inner[ihl2:ihl2 + 8]
                else:
                    orig = inner[40:48]
                if len(orig) >= 8:
                    ident, seq = struct.unpack("!HH", orig[4:8])
                    self._deliver(ident, seq, now, "refused", "icmp type %d code %d" % (typ, code), addr[0])

    def _deliver(self, ident, seq, now, verdict, detail, src):
        cb = self.listeners.get(ident)
        if cb is not None:
            cb(seq, now, verdict, src)
            return
        fut = self.waiters.pop((ident, seq), None)
        if fut is not None and not fut.done():
            fut.set_result((verdict, now, detail))

    def send(self, fam, dst, ident, seq, payload=b"otc"):
        typ = 8 if fam == socket.AF_INET else 128
        hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
        pkt = hdr + payload
        if fam == socket.AF_INET:
            pkt = struct.pack("!BBHHH", typ, 0, icmp_checksum(pkt), ident, seq) + payload
        self.socks[fam].sendto(pkt, (dst, 0))

    def close(self):
        loop = asyncio.get_event_loop()
        for s in self.socks.values():
            if s is not None:
                try:
                    loop.remove_reader(s.fileno())
                except Exception:
                    pass
                s.close()


_icmp_ids = itertools.count(1)


def next_icmp_id():
    return (os.getpid() * 7 + next(_icmp_ids)) & 0xFFFF or 1


async def icmp_dispatcher(ns):
    if ns.icmp is None:
        s4 = await ns.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        try:
            s6 = await ns.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        except OSError:
            s6 = None
        if ns.icmp is None:
            ns.icmp = IcmpDispatcher(s4, s6)
        else:
            s4.close()
            if s6 is not None:
                s6.close()
    return ns.icmp


async def op_icmp(req):
    ns = await NAMESPACES.get(req.get("ns"))
    fam = parse_addr(req["to"])
    disp = await icmp_dispatcher(ns)
    ident = next_icmp_id()
    seqs = itertools.count(1)
    loop = asyncio.get_running_loop()

    async def attempt(timeout):
        seq = next(seqs) & 0xFFFF
        fut = loop.create_future()
        disp.waiters[(ident, seq)] = fut
        t0 = mono_ms()
        try:
            try:
                disp.send(fam, req["to"], ident, seq)
            except OSError as exc:
                v, d = classify_oserror(exc, True)
                return v, None, d
            try:
                verdict, at, detail = await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                return "dropped", None, "no echo reply in %d ms" % round(timeout * 1000)
            return verdict, (at - t0) if verdict == "allowed" else None, detail
        finally:
            disp.waiters.pop((ident, seq), None)

    return await run_mode(req, attempt)


# ---------------------------------------------------------------------------------------------------
# listeners (TCP accept-and-close, UDP echo)

LISTENERS = {}  # key (path, proto, port) -> dict(refs, sock, task)
_listener_ids = itertools.count(1)
LISTENER_KEYS = {}  # handle id -> key


async def open_listener_socket(ns, proto, port):
    typ = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    try:
        sock = await ns.socket(socket.AF_INET6, typ)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        addr = ("::", port)
    except OSError:
        sock = await ns.socket(socket.AF_INET, typ)
        addr = ("0.0.0.0", port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            return None
        if exc.errno == errno.EADDRNOTAVAIL and addr[0] == "::":
            sock = await ns.socket(socket.AF_INET, typ)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
        else:
            raise
    if proto == "tcp":
        sock.listen(4096)
    return sock


def serve_listener(sock, proto):
    loop = asyncio.get_running_loop()
    if proto == "tcp":
        def on_accept():
            while True:
                try:
                    conn, _ = sock.accept()
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                conn.close()
    else:
        def on_accept():
            while True:
                try:
                    data, addr = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                try:
                    sock.sendto(data, addr)
                except OSError:
                    pass
    loop.add_reader(sock.fileno(), on_accept)


async def op_listen(req):
    ns = await NAMESPACES.get(req.get("ns"))
    proto = req["proto"]
    if proto not in ("tcp", "udp"):
        raise ProbeFailure("bad-request", "listen proto must be tcp or udp")
    port = int(req["port"])
    key = (ns.path, proto, port)
    entry = LISTENERS.get(key)
    if entry is None:
        sock = await open_listener_socket(ns, proto, port)
        entry = {"refs": 0, "sock": sock, "proto": proto}
        if sock is not None:
            serve_listener(sock, proto)
        LISTENERS[key] = entry
    entry["refs"] += 1
    handle = "l%d" % next(_listener_ids)
    LISTENER_KEYS[handle] = key
    return {"id": handle, "opened": entry["sock"] is not None}


def close_listener(handle):
    key = LISTENER_KEYS.pop(handle, None)
    if key is None:
        return False
    entry = LISTENERS.get(key)
    if entry is None:
        return False
    entry["refs"] -= 1
    if entry["refs"] <= 0:
        LISTENERS.pop(key, None)
        sock = entry["sock"]
        if sock is not None:
            try:
                asyncio.get_running_loop().remove_reader(sock.fileno())
            except Exception:
                pass
            sock.close()
    return True


async def op_unlisten(req):
    ids = req.get("ids") or []
    return {"closed": sum(1 for h in ids if close_listener(h))}


# ---------------------------------------------------------------------------------------------------
# packets: description <-> scapy


def build_packet(desc):
    sc = scapy()
    layers = sc["layers"]
    if not isinstance(desc, list) or not desc:
        raise ProbeFailure("bad-request", "a packet description is a non-empty list of layers")
    pkt = None
    for i, layer in enumerate(desc):
        if not isinstance(layer, dict) or "layer" not in layer:
            raise ProbeFailure("bad-request", "layer %d: expected an object with a 'layer' name" % i)
        name = layer["layer"]
        cls = layers.get(name)
        if cls is None:
            raise ProbeFailure("bad-request", "layer %d: unknown layer %r (allowed: %s)" % (i, name, ", ".join(sorted(layers))))
        fields = {}
        if name == "Raw":
            if "loadHex" in layer:
                fields["load"] = bytes.fromhex(layer["loadHex"])
            elif "load" in layer:
                fields["load"] = str(layer["load"]).encode()
        else:
            known = {f.name for f in cls.fields_desc}
            for key, value in layer.items():
                if key == "layer":
                    continue
                if key not in known:
                    raise ProbeFailure("bad-request", "layer %d (%s): unknown field %r (fields: %s)" % (i, name, key, ", ".join(sorted(known))))
                if not isinstance(value, (int, float, str, bool, list)) or isinstance(value, bool):
                    raise ProbeFailure("bad-request", "layer %d (%s): field %s must be a number, string or list" % (i, name, key))
                fields[key] = value
        try:
            part = cls(**fields)
        except Exception as exc:
            raise ProbeFailure("bad-request", "layer %d (%s): %s" % (i, name, exc))
        pkt = part if pkt is None else pkt / part
    return pkt


def field_json(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [field_json(v) for v in value]
    try:
        return int(value)  # FlagValue and enums
    except Exception:
        return str(value)


def decode_layers(pkt):
    out = []
    layer = pkt
    sc = scapy()
    while layer is not None and layer.__class__.__name__ != "NoPayload":
        name = layer.__class__.__name__
        entry = {"layer": name}
        if name in ("Raw", "Padding"):
            entry["loadHex"] = bytes(layer.load).hex()
        else:
            for f in layer.fields_desc:
                entry[f.name] = field_json(layer.getfieldval(f.name))
        out.append(entry)
        layer = layer.payload
    return out


def dissect(raw):
    sa = scapy()["all"]
    return decode_layers(sa.Ether(raw))


async def op_build(req):
    """Builds a description and returns it decoded with every default and checksum filled in."""
    loop = asyncio.get_running_loop()

    def work():
        pkt = build_packet(req["packet"])
        raw = bytes(pkt)
        sa = scapy()["all"]
        first = pkt.__class__
        again = first(raw) if first is not sa.Ether else sa.Ether(raw)
        return {"layers": decode_layers(again), "hex": raw.hex()}

    return await loop.run_in_executor(None, work)


async def op_interfaces(req):
    ns = await NAMESPACES.get(req.get("ns"))
    return {"interfaces": await ns.call(list_interfaces)}


async def packet_socket(ns, ifname, proto=ETH_P_ALL):
    sock = await ns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
    try:
        await ns.call(sock.bind, (ifname, proto))
    except OSError as exc:
        sock.close()
        raise ProbeFailure("bad-request", "cannot bind to interface %s in %s: %s" % (ifname, ns.path, exc.strerror))
    return sock


async def op_send(req):
    ns = await NAMESPACES.get(req.get("ns"))
    loop = asyncio.get_running_loop()
    desc = req["packet"]
    iface = req.get("iface")
    count = int(req.get("count", 1))
    interval = float(req.get("intervalMs", 0)) / 1000.0
    if iface:
        mac, _ = await ns.call(if_info, iface)
        if desc and desc[0].get("layer") == "Ether" and "src" not in desc[0]:
            desc = [dict(desc[0], src=mac)] + list(desc[1:])
        elif not desc or desc[0].get("layer") != "Ether":
            raise ProbeFailure("bad-request", "a frame sent on an interface starts with an Ether layer")
        raw = await loop.run_in_executor(None, lambda: bytes(build_packet(desc)))
        sock = await packet_socket(ns, iface)
        try:
            for i in range(count):
                await loop.sock_sendall(sock, raw)
                if interval and i + 1 < count:
                    await asyncio.sleep(interval)
        finally:
            sock.close()
    else:
        if not desc or desc[0].get("layer") not in ("IP", "IPv6"):
            raise ProbeFailure("bad-request", "a routed packet (no iface) starts with an IP or IPv6 layer")
        pkt = await loop.run_in_executor(None, lambda: build_packet(desc))
        raw = bytes(pkt)
        fam = socket.AF_INET if desc[0]["layer"] == "IP" else socket.AF_INET6
        sock = await ns.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
        try:
            dst = pkt.dst
            for i in range(count):
                sock.sendto(raw, (dst, 0))
                if interval and i + 1 < count:
                    await asyncio.sleep(interval)
        finally:
            sock.close()
    return {"sent": count, "bytes": len(raw)}


def attach_bpf(sock, expr):
    sc = scapy()
    prog = sc["compile_filter"](expr, linktype=1)
    fprog = sc["sock_fprog"](prog.bf_len, prog.bf_insns)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


class PcapWriter:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.count = 0

    def write(self, raw, epoch):
        sec = int(epoch)
        usec = int((epoch - sec) * 1e6)
        self.f.write(struct.pack("<IIII", sec, usec, len(raw), len(raw)))
        self.f.write(raw)
        self.count += 1

    def close(self):
        self.f.close()


class Sniffer:
    """An AF_PACKET socket on one interface with an optional BPF filter, read on the loop."""

    def __init__(self, sock, pcap, keep, limit):
        self.sock = sock
        self.pcap = pcap
        self.keep = keep
        self.limit = limit
        self.frames = []
        self.count = 0
        self.done = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def _readable(self):
        while True:
            try:
                raw, addr = self.sock.recvfrom(262144)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            mono = mono_ms()
            epoch = time.time()
            self.count += 1
            if self.pcap is not None:
                self.pcap.write(raw, epoch)
            if self.keep:
                self.frames.append((raw, mono, epoch, PKTTYPES.get(addr[2], str(addr[2]))))
            if self.limit and self.count >= self.limit and not self.done.done():
                self.done.set_result(True)
                return

    def close(self):
        try:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        except Exception:
            pass
        self.sock.close()
        if self.pcap is not None:
            self.pcap.close()


async def open_sniffer(req, keep):
    ns = await NAMESPACES.get(req.get("ns"))
    loop = asyncio.get_running_loop()
    sock = await packet_socket(ns, req["iface"])
    try:
        expr = req.get("filter")
        if expr:
            await loop.run_in_executor(None, attach_bpf, sock, expr)
        # Frames queued before the filter was attached may not match it: drain them.
        while True:
            try:
                sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                break
        pcap = PcapWriter(req["pcapPath"]) if req.get("pcapPath") else None
    except Exception as exc:
        sock.close()
        if isinstance(exc, ProbeFailure):
            raise
        raise ProbeFailure("bad-request", "filter %r: %s" % (req.get("filter"), exc))
    return Sniffer(sock, pcap, keep, int(req.get("count") or 0))


async def op_sniff(req):
    sn = await open_sniffer(req, keep=True)
    try:
        if req.get("readyEvent"):
            emit({"event": "sniff-ready", "ref": req.get("id")})
        try:
            await asyncio.wait_for(asyncio.shield(sn.done), float(req.get("timeoutMs", 1000)) / 1000.0)
        except asyncio.TimeoutError:
            pass
    finally:
        sn.close()
    loop = asyncio.get_running_loop()

    def decode_all():
        out = []
        for raw, mono, epoch, direction in sn.frames:
            out.append({"monoMs": round(mono, 3), "epochMs": round(epoch * 1000.0, 3), "direction": direction,
                        "length": len(raw), "layers": dissect(raw), "hex": raw.hex()})
        return out

    return {"packets": await loop.run_in_executor(None, decode_all)}


CAPTURES = {}
_capture_ids = itertools.count(1)


async def op_capture_start(req):
    if not req.get("pcapPath"):
        raise ProbeFailure("bad-request", "capture needs a pcap path")
    sn = await open_sniffer(req, keep=False)
    handle = "c%d" % next(_capture_ids)
    CAPTURES[handle] = sn
    duration = req.get("durationMs")
    if duration:
        asyncio.get_running_loop().call_later(float(duration) / 1000.0, lambda: sn.done.done() or sn.done.set_result(True))
    return {"id": handle}


async def op_capture_stop(req):
    sn = CAPTURES.pop(req["capture"], None)
    if sn is None:
        raise ProbeFailure("bad-request", "no capture %r" % req.get("capture"))
    if req.get("waitDuration"):
        await sn.done
    sn.close()
    return {"packets": sn.count}


async def op_arp(req):
    ns = await NAMESPACES.get(req.get("ns"))
    loop = asyncio.get_running_loop()
    iface = req["iface"]
    mac, ifip = await ns.call(if_info, iface)
    sender_ip = req.get("senderIp") or ifip or "0.0.0.0"
    target = req["ip"]
    parse_addr(target)
    sock = await packet_socket(ns, iface, ETH_P_ARP)
    timeout = float(req.get("timeoutMs", 1000)) / 1000.0
    try:
        mac_b = bytes.fromhex(mac.replace(":", ""))
        frame = (b"\xff" * 6 + mac_b + struct.pack("!H", ETH_P_ARP)
                 + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac_b + socket.inet_aton(sender_ip)
                 + b"\0" * 6 + socket.inet_aton(target))
        t0 = mono_ms()
        await loop.sock_sendall(sock, frame)
        deadline = time.monotonic() + timeout
        replies = []
        want_all = bool(req.get("all"))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                raw = await asyncio.wait_for(loop.sock_recv(sock, 2048), left)
            except asyncio.TimeoutError:
                break
            if len(raw) < 42:
                continue
            op, sha, spa = struct.unpack("!H6s4s", raw[20:32])
            if op != 2 or socket.inet_ntoa(spa) != target:
                continue
            replies.append({"mac": ":".join("%02x" % b for b in sha), "ip": target, "rttMs": round(mono_ms() - t0, 3)})
            if not want_all:
                break
        return {"answered": bool(replies), "replies": replies}
    finally:
        sock.close()


# ---------------------------------------------------------------------------------------------------
# streams

STREAMS = {}
_stream_ids = itertools.count(1)


class Stream:
    def __init__(self, proto, rate, payload_size):
        self.proto = proto
        self.rate = rate
        self.payload_size = payload_size
        self.sent = 0
        self.send_errors = 0
        self.arrivals = []  # (seq, mono_ms, epoch_ms)
        self.task = None
        self.closers = []
        self.started_mono = None
        self.stopped_mono = None

    def record(self, seq, mono):
        self.arrivals.append((seq, mono, time.time() * 1000.0))

    async def run(self, send_one):
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rate
        self.started_mono = mono_ms()
        t0 = time.monotonic()
        try:
            while True:
                due = int((time.monotonic() - t0) / interval) + 1
                while self.sent < due:
                    seq = self.sent
                    self.sent += 1
                    try:
                        send_one(seq)
                    except OSError:
                        self.send_errors += 1
                next_at = t0 + self.sent * interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        except asyncio.CancelledError:
            pass

    def report(self):
        arrivals = sorted(self.arrivals, key=lambda a: a[1])
        seen = set()
        dups = 0
        reordered = 0
        highest = -1
        for seq, _, _ in arrivals:
            if seq in seen:
                dups += 1
                continue
            seen.add(seq)
            if seq < highest:
                reordered += 1
            highest = max(highest, seq)
        received = len(seen)
        gap = None
        for prev, cur in zip(arrivals, arrivals[1:]):
            d = cur[1] - prev[1]
            if gap is None or d > gap["ms"]:
                gap = {"ms": round(d, 3), "startMonoMs": round(prev[1], 3), "endMonoMs": round(cur[1], 3),
                       "startEpochMs": round(prev[2], 3), "endEpochMs": round(cur[2], 3),
                       "lastSeqBefore": prev[0], "firstSeqAfter": cur[0]}
        return {
            "proto": self.proto, "ratePps": self.rate, "sent": self.sent, "sendErrors": self.send_errors,
            "received": received, "lost": max(0, self.sent - received), "duplicates": dups,
            "reordered": reordered, "startMonoMs": round(self.started_mono or 0, 3),
            "stopMonoMs": round(self.stopped_mono or 0, 3),
            "firstArrivalMonoMs": round(arrivals[0][1], 3) if arrivals else None,
            "lastArrivalMonoMs": round(arrivals[-1][1], 3) if arrivals else None,
            "longestGap": gap,
        }


async def op_stream_start(req):
    src = await NAMESPACES.get(req.get("ns"))
    proto = req.get("proto", "udp")
    rate = float(req.get("ratePps", 1000))
    if rate <= 0 or rate > 100000:
        raise ProbeFailure("bad-request", "ratePps must be in (0, 100000]")
    to = req["to"]
    fam = parse_addr(to)
    size = max(16, int(req.get("payloadBytes", 64)))
    stream = Stream(proto, rate, size)
    loop = asyncio.get_running_loop()
    magic = os.urandom(4)
    if proto == "udp":
        dst = await NAMESPACES.get(req.get("toNs"))
        port = int(req.get("port", 9999))
        rsock = await dst.socket(fam, socket.SOCK_DGRAM)
        rsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            rsock.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", port))
        except OSError as exc:
            rsock.close()
            raise ProbeFailure("bad-request", "stream receiver port %d in %s: %s" % (port, dst.path, exc.strerror))

        def on_rx():
            while True:
                try:
                    data = rsock.recv(65535)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                now = mono_ms()
                if len(data) >= 12 and data[:4] == magic:
                    stream.record(struct.unpack("!Q", data[4:12])[0], now)

        loop.add_reader(rsock.fileno(), on_rx)
        ssock = await src.socket(fam, socket.SOCK_DGRAM)
        pad = b"\0" * (size - 12)

        def send_one(seq):
            ssock.sendto(magic + struct.pack("!Q", seq) + pad, (to, port))

        def close():
            loop.remove_reader(rsock.fileno())
            rsock.close()
            ssock.close()

        stream.closers.append(close)
    elif proto == "icmp":
        disp = await icmp_dispatcher(src)
        ident = next_icmp_id()
        pad = b"\0" * (size - 8)

        def on_reply(seq, now, verdict, _src):
            if verdict == "allowed":
                # 16-bit ICMP sequence: unwrap against what was sent.
                base = stream.sent - ((stream.sent - seq) & 0xFFFF) if stream.sent else seq
                stream.record(base, now)

        disp.listeners[ident] = on_reply

        def send_one(seq):
            disp.send(fam, to, ident, seq & 0xFFFF, pad)

        stream.closers.append(lambda: disp.listeners.pop(ident, None))
    else:
        raise ProbeFailure("bad-request", "stream proto must be udp or icmp")
    handle = "s%d" % next(_stream_ids)
    STREAMS[handle] = stream
    stream.task = loop.create_task(stream.run(send_one))
    return {"id": handle, "startMonoMs": round(mono_ms(), 3)}


async def op_stream_stop(req):
    stream = STREAMS.pop(req["stream"], None)
    if stream is None:
        raise ProbeFailure("bad-request", "no stream %r" % req.get("stream"))
    stream.task.cancel()
    try:
        await stream.task
    except asyncio.CancelledError:
        pass
    stream.stopped_mono = mono_ms()
    # Let in-flight packets arrive before closing the receiver.
    await asyncio.sleep(float(req.get("drainMs", 50)) / 1000.0)
    for close in stream.closers:
        close()
    return stream.report()


# ---------------------------------------------------------------------------------------------------
# reachability watches: armed before a change, they time its effect and not the probe's own start-up

REACHES = {}
_reach_ids = itertools.count(1)


async def op_reach_start(req):
    """Echo requests to `to` every intervalMs until the first echo reply (or timeoutMs). The first
    request is sent before this returns, so a watch started before an API call is already probing
    when the call is made; reach_wait then reports the reply's arrival on the wall clock."""
    ns = await NAMESPACES.get(req.get("ns"))
    to = req["to"]
    fam = parse_addr(to)
    disp = await icmp_dispatcher(ns)
    ident = next_icmp_id()
    interval = max(1.0, float(req.get("intervalMs", 5))) / 1000.0
    timeout = max(1.0, float(req.get("timeoutMs", 20000))) / 1000.0
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    watch = {"sent": 0, "sendErrors": 0, "done": done, "ident": ident, "disp": disp}

    def on_reply(seq, _now, verdict, _src):
        if verdict == "allowed" and not done.done():
            done.set_result({"reached": True, "atMs": time.time() * 1000.0, "seq": seq})

    disp.listeners[ident] = on_reply

    def send_one():
        try:
            disp.send(fam, to, ident, (watch["sent"] + 1) & 0xFFFF)
        except OSError:
            watch["sendErrors"] += 1
        watch["sent"] += 1

    async def sender():
        deadline = loop.time() + timeout
        while not done.done() and loop.time() < deadline:
            await asyncio.sleep(interval)
            if not done.done():
                send_one()
        if not done.done():
            done.set_result({"reached": False, "atMs": None, "seq": None})

    armed = time.time() * 1000.0
    send_one()
    watch["task"] = loop.create_task(sender())
    ref = next(_reach_ids)
    REACHES[ref] = watch
    return {"watch": ref, "armedAtMs": armed}


async def op_reach_wait(req):
    watch = REACHES.get(req.get("watch"))
    if watch is None:
        raise ProbeFailure("bad-request", "no reachability watch %r" % req.get("watch"))
    try:
        result = await watch["done"]
    finally:
        REACHES.pop(req.get("watch"), None)
        watch["task"].cancel()
        watch["disp"].listeners.pop(watch["ident"], None)
    return dict(result, sent=watch["sent"], sendErrors=watch["sendErrors"])


# ---------------------------------------------------------------------------------------------------
# misc ops


async def op_ping(req):
    return {"pong": True, "monoMs": round(mono_ms(), 3)}


async def op_stats(req):
    return {
        "threads": threading.active_count(),
        "namespaces": sorted(NAMESPACES.by_path),
        "listeners": len(LISTENERS),
        "captures": len(CAPTURES),
        "streams": len(STREAMS),
        "scapyLoaded": _scapy is not None,
    }


async def op_release(req):
    paths = req.get("paths") or []
    loop = asyncio.get_running_loop()
    for key in [k for k in LISTENERS if k[0] in paths]:
        for handle, k in list(LISTENER_KEYS.items()):
            if k == key:
                close_listener(handle)
    for path in paths:
        await loop.run_in_executor(None, NAMESPACES.release, path)
    return {"released": len(paths)}


async def op_crash(req):
    sys.stderr.write("probe server: crash requested by the client\n")
    sys.stderr.flush()
    os._exit(int(req.get("code", 70)))


OPS = {
    "ping": op_ping, "stats": op_stats, "tcp": op_tcp, "udp": op_udp, "icmp": op_icmp,
    "listen": op_listen, "unlisten": op_unlisten, "build": op_build, "interfaces": op_interfaces,
    "send": op_send, "sniff": op_sniff, "capture_start": op_capture_start, "capture_stop": op_capture_stop,
    "arp": op_arp, "stream_start": op_stream_start, "stream_stop": op_stream_stop, "release": op_release,
    "crash": op_crash, "reach_start": op_reach_start, "reach_wait": op_reach_wait,
}


async def handle(req):
    rid = req.get("id")
    try:
        fn = OPS.get(req.get("op"))
        if fn is None:
            raise ProbeFailure("bad-request", "unknown op %r" % req.get("op"))
        result = await fn(req)
        emit({"id": rid, "ok": True, "result": result})
    except ProbeFailure as exc:
        emit({"id": rid, "ok": False, "kind": exc.kind, "error": str(exc)})
    except KeyError as exc:
        emit({"id": rid, "ok": False, "kind": "bad-request", "error": "missing field %s" % exc})
    except Exception as exc:  # noqa: BLE001 - reported to the client, the server keeps serving
        sys.stderr.write(traceback.format_exc())
        emit({"id": rid, "ok": False, "kind": "internal", "error": "%s: %s" % (type(exc).__name__, exc)})


def stdin_reader(loop, queue):
    for line in sys.stdin:
        line = line.strip()
        if line:
            loop.call_soon_threadsafe(queue.put_nowait, line)
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def main():
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="work"))
    queue = asyncio.Queue()
    reader = threading.Thread(target=stdin_reader, args=(loop, queue), daemon=True)
    reader.start()
    scapy_present = importlib.util.find_spec("scapy") is not None
    emit({"event": "hello", "pid": os.getpid(), "python": sys.version.split()[0], "scapy": scapy_present,
          "executable": sys.executable})
    if scapy_present and os.environ.get("OTC_PREWARM_SCAPY", "1") == "1":
        # Import in the background so the first crafted frame does not pay the ~0.5 s.
        loop.run_in_executor(None, lambda: _safe(scapy))
    tasks = set()
    while True:
        line = await queue.get()
        if line is None:
            break
        try:
            req = json.loads(line)
        except ValueError:
            emit({"event": "bad-line", "line": line[:200]})
            continue
        if req.get("op") == "shutdown":
            emit({"id": req.get("id"), "ok": True, "result": {}})
            break
        task = loop.create_task(handle(req))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    for task in tasks:
        task.cancel()
    for stream in STREAMS.values():
        stream.task.cancel()
        for close in stream.closers:
            close()
    for sn in CAPTURES.values():
        sn.close()
    for handle_id in list(LISTENER_KEYS):
        close_listener(handle_id)
    NAMESPACES.close_all()


def _safe(fn):
    try:
        fn()
    except Exception:
        pass


if __name__ == "__main__":
    # Everything was closed by main(); do not wait for a background scapy import to finish.
    asyncio.new_event_loop().run_until_complete(main())
    sys.stdout.flush()
    os._exit(0)
