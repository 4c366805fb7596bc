"""Crafted frames: packet descriptions to and from scapy, sending, sniffing, captures to pcap and ARP."""

import asyncio
import errno
import itertools
import socket
import struct
import time

from .common import ETH_P_ALL, ETH_P_ARP, PKTTYPES, ProbeFailure, SO_ATTACH_FILTER, emit, mono_ms, scapy
from .namespaces import NAMESPACES, if_info, list_interfaces, parse_addr


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


# How long an interface may take to appear: a VM's namespace is enterable as soon as it is mounted,
# and its eth0 is moved in by the implementation a moment later.
INTERFACE_WAIT_S = 10.0


async def wait_interface(ns, ifname):
    """Returns once `ifname` exists in the namespace, or after INTERFACE_WAIT_S (callers then report it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + INTERFACE_WAIT_S
    while True:
        try:
            await ns.call(socket.if_nametoindex, ifname)
            return
        except OSError:
            if loop.time() >= deadline:
                return
            await asyncio.sleep(0.01)


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
        await wait_interface(ns, iface)
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
    await wait_interface(ns, req["iface"])
    sock = await packet_socket(ns, req["iface"])
    try:
        expr = req.get("filter")
        if expr:
            await loop.run_in_executor(None, attach_bpf, sock, expr)
        # Frames queued before the filter was attached may not match it: drain them. An interface
        # still down when bound reports ENETDOWN once; the socket receives from the moment it is up.
        while True:
            try:
                sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno != errno.ENETDOWN:
                    raise
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
    await wait_interface(ns, iface)
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
