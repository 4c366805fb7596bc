"""The server loop: reads requests from stdin, dispatches them to the ops, writes the replies."""

import asyncio
import concurrent.futures
import importlib.util
import json
import os
import sys
import threading
import traceback

from .common import ProbeFailure, emit, mono_ms, scapy, scapy_loaded
from .namespaces import NAMESPACES
from .packets import CAPTURES, op_arp, op_build, op_capture_start, op_capture_stop, op_interfaces, op_send, op_sniff
from .probes import LISTENERS, LISTENER_KEYS, close_listener, op_icmp, op_listen, op_tcp, op_udp, op_unlisten
from .reach import op_reach_start, op_reach_wait
from .streams import STREAMS, op_stream_start, op_stream_stop


async def op_ping(req):
    return {"pong": True, "monoMs": round(mono_ms(), 3)}


async def op_warm(req):
    """Returns once scapy is imported: sniffers armed together then become ready together."""
    await asyncio.get_running_loop().run_in_executor(None, scapy)
    return {"scapyLoaded": scapy_loaded()}


async def op_stats(req):
    return {
        "threads": threading.active_count(),
        "namespaces": sorted(NAMESPACES.by_path),
        "listeners": len(LISTENERS),
        "captures": len(CAPTURES),
        "streams": len(STREAMS),
        "scapyLoaded": scapy_loaded(),
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
    "ping": op_ping, "warm": op_warm, "stats": op_stats, "tcp": op_tcp, "udp": op_udp, "icmp": op_icmp,
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
    if scapy_present and os.environ.get("OTWIN_PREWARM_SCAPY", "1") == "1":
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


def run():
    asyncio.new_event_loop().run_until_complete(main())
    # Everything was closed by main(); do not wait for a background scapy import to finish.
    sys.stdout.flush()
    os._exit(0)
