"""Reachability probes (TCP connect, UDP, ICMP echo) with their verdicts, and the listeners that answer them."""

import asyncio
import errno
import itertools
import os
import socket
import struct
import time

from .common import ProbeFailure, mono_ms
from .namespaces import NAMESPACES, parse_addr


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


def bind_source_port(sock, family, sport):
    """Binds a probe socket to a chosen source port (unsolicited traffic from a service port); None when bound.

    SO_REUSEADDR/SO_REUSEPORT let consecutive attempts and concurrent cells reuse the same port (TCP
    sockets close with RST, so no TIME_WAIT holds it). A port that stays taken is an `error`, never a drop.
    """
    if sport is None:
        return None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", int(sport)))
    except OSError as exc:
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        return "error", None, "cannot send from source port %d: %s" % (int(sport), name)
    return None


async def op_tcp(req):
    ns = await NAMESPACES.get(req.get("ns"))
    family = parse_addr(req["to"])
    port = int(req["port"])
    sport = req.get("sport")
    loop = asyncio.get_running_loop()

    async def attempt(timeout):
        sock = await ns.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            failure = bind_source_port(sock, family, sport)
            if failure:
                return failure
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
    sport = req.get("sport")
    loop = asyncio.get_running_loop()

    async def attempt(timeout):
        sock = await ns.socket(family, socket.SOCK_DGRAM)
        try:
            failure = bind_source_port(sock, family, sport)
            if failure:
                return failure
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
        self.loop = asyncio.get_running_loop()
        for fam, s in self.socks.items():
            if s is not None:
                self.loop.add_reader(s.fileno(), self._readable, fam)

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
        # Namespaces are released from worker threads; the readers belong to the event loop, so the
        # sockets are unregistered and closed on the loop's own thread.
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            on_loop = False
        if on_loop or self.loop.is_closed():
            self._close_on_loop()
        else:
            self.loop.call_soon_threadsafe(self._close_on_loop)

    def _close_on_loop(self):
        for s in self.socks.values():
            if s is not None:
                if not self.loop.is_closed():
                    try:
                        self.loop.remove_reader(s.fileno())
                    except (ValueError, OSError):
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
