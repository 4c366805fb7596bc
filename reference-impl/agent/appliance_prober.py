"""The agent's persistent appliance prober (reference-impl/agent/appliance-liveness.ts, SVC-5): one
long-lived process sends the ICMP echoes of every liveness probe, so a probe costs no process start
(a `ping` started through `ip netns exec` costs 100-300 ms of CPU on a busy 2-core machine, ten
times a second per appliance, and its verdict arrives as late as the process does).

One raw ICMP socket per router namespace, opened after setns() into /run/netns/<name> (a socket
stays bound to the namespace it was created in); the prober then returns to its own namespace. A
namespace deleted and created again under the same name is a new inode: its socket is replaced.

Protocol (argv: interval_ms timeout_ms): one JSON object a line on stdin
{"targets": [{"key", "ns", "ip"}]} replaces the set of targets (keys the caller chooses; a new key
starts at sequence 1). Every interval one echo goes to each target; one line a verdict on stdout
{"key", "seq", "answered": true|false} (false: no reply within timeout_ms), or {"key", "seq",
"error"} when the echo could not be sent (the namespace is gone, no route: `ping` exit status 2).
The first line written is {"ready": true, "pid"} or {"ready": false, "err"} (no raw sockets: the
caller falls back to one `ping` process per probe). EOF on stdin ends the prober.
"""
import json
import os
import select
import socket
import struct
import sys
import time

# The helpers run from the source tree (a lab's /srv): no __pycache__ written into it.
sys.dont_write_bytecode = True
from netns_enter import inside, netns_path

ICMP_ECHO_REQUEST = 8
ICMP_ECHO_REPLY = 0


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


interval = int(sys.argv[1]) / 1000 if len(sys.argv) > 1 else 0.1
timeout = int(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.15
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
except OSError as err:
    say({"ready": False, "err": f"no raw ICMP socket ({err})"})
    sys.exit(0)

IDENT = os.getpid() & 0xFFFF
# namespace name -> [inode, socket, next 16-bit sequence]
sockets = {}
# (namespace, 16-bit sequence) -> (key, seq, deadline)
pending = {}
# key -> {"ns", "ip", "seq"}
targets = {}


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo(seq16):
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, IDENT, seq16)
    payload = b"otwin-liveness"
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, checksum(header + payload), IDENT, seq16) + payload


def ns_socket(ns):
    inode = os.stat(netns_path(ns)).st_ino
    have = sockets.get(ns)
    if have and have[0] == inode:
        return have
    if have:
        forget(ns)
    with inside(ns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        sock.setblocking(False)
    sockets[ns] = [inode, sock, 0]
    return sockets[ns]


def forget(ns):
    entry = sockets.pop(ns, None)
    if entry:
        entry[1].close()
    for k in [k for k in pending if k[0] == ns]:
        key, seq, _ = pending.pop(k)
        say({"key": key, "seq": seq, "error": f"namespace {ns} replaced"})


def send_round():
    for key, t in targets.items():
        t["seq"] += 1
        try:
            entry = ns_socket(t["ns"])
            seq16 = entry[2] = (entry[2] + 1) & 0xFFFF
            entry[1].sendto(echo(seq16), (t["ip"], 0))
            pending[(t["ns"], seq16)] = (key, t["seq"], time.monotonic() + timeout)
        except (OSError, ValueError) as err:
            say({"key": key, "seq": t["seq"], "error": f"{type(err).__name__}: {err}"})
    # Sockets of namespaces no target uses any more keep those namespaces alive: close them.
    used = {t["ns"] for t in targets.values()}
    for ns in [ns for ns in sockets if ns not in used]:
        forget(ns)


def receive(ns, sock):
    while True:
        try:
            data, (src, _) = sock.recvfrom(2048)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        ihl = (data[0] & 0x0F) * 4
        if len(data) < ihl + 8:
            continue
        kind, _, _, ident, seq16 = struct.unpack("!BBHHH", data[ihl : ihl + 8])
        if kind != ICMP_ECHO_REPLY or ident != IDENT:
            continue
        hit = pending.get((ns, seq16))
        if not hit:
            continue
        key, seq, _ = hit
        target = targets.get(key)
        if target is None or target["ip"] != src:
            continue
        del pending[(ns, seq16)]
        say({"key": key, "seq": seq, "answered": True})


def expire(now):
    for k, (key, seq, deadline) in list(pending.items()):
        if deadline <= now:
            del pending[k]
            if key in targets:
                say({"key": key, "seq": seq, "answered": False})


def command(line):
    msg = json.loads(line)
    wanted = {t["key"]: t for t in msg.get("targets", [])}
    for key in [k for k in targets if k not in wanted]:
        del targets[key]
    for key, t in wanted.items():
        if key not in targets:
            targets[key] = {"ns": t["ns"], "ip": t["ip"], "seq": 0}


say({"ready": True, "pid": os.getpid()})
stdin = sys.stdin.buffer
buffered = b""
next_round = time.monotonic()
while True:
    now = time.monotonic()
    if now >= next_round:
        if targets:
            send_round()
        # A fixed schedule: a late round is not followed by a burst of the rounds it missed.
        next_round += interval
        if next_round <= now:
            next_round = now + interval
    wake = min([next_round] + [d for (_, _, d) in pending.values()])
    by_fd = {entry[1].fileno(): ns for ns, entry in sockets.items()}
    readable, _, _ = select.select([stdin.fileno(), *by_fd], [], [], max(0.0, wake - time.monotonic()))
    for fd in readable:
        if fd == stdin.fileno():
            chunk = os.read(fd, 65536)
            if not chunk:
                sys.exit(0)
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                if line.strip():
                    try:
                        command(line)
                    except (ValueError, KeyError, TypeError) as err:
                        say({"warning": f"bad command {line[:200]!r}: {err}"})
        elif fd in by_fd and by_fd[fd] in sockets:
            receive(by_fd[fd], sockets[by_fd[fd]][1])
    expire(time.monotonic())
