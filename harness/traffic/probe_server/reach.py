"""Reachability watches: armed before a change, they time its effect and not the probe's own start-up."""

import asyncio
import itertools
import time

from .common import ProbeFailure
from .namespaces import NAMESPACES, parse_addr
from .probes import icmp_dispatcher, next_icmp_id

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
