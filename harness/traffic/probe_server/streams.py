"""Rate-controlled UDP/TCP streams with per-packet receive times, for loss windows."""

import asyncio
import itertools
import os
import socket
import struct
import time

from .common import ProbeFailure, mono_ms
from .namespaces import NAMESPACES, parse_addr
from .probes import icmp_dispatcher, next_icmp_id


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def kernel_rx_mono_ms(ancdata):
    """The kernel's receive time of a datagram (SO_TIMESTAMPNS, CLOCK_REALTIME) on the monotonic clock.

    A busy machine may delay this process's read by hundreds of ms; stamping arrivals when they are
    read would move them, and shorten or hide the loss windows measured from them.
    """
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec * 1000.0 + nsec / 1e6 - (time.time() * 1000.0 - mono_ms())
    return mono_ms()


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
        rsock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        try:
            rsock.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", port))
        except OSError as exc:
            rsock.close()
            raise ProbeFailure("bad-request", "stream receiver port %d in %s: %s" % (port, dst.path, exc.strerror))

        def on_rx():
            while True:
                try:
                    data, ancdata, _flags, _addr = rsock.recvmsg(65535, 64)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return
                now = kernel_rx_mono_ms(ancdata)
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
