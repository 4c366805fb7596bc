"""The agent's persistent nftables session (reference-impl/agent/nft-session.ts): applies nft scripts
in named network namespaces through libnftables, so a change costs no process start (an `nft`
process costs 200-290 ms to start on a busy 2-core machine; a batch here costs a few ms).

libnftables binds its netlink socket to the namespace the context is created in, so there is one
context per namespace, created after setns() into it; the helper then returns to its own namespace.
A namespace deleted and created again under the same name is a new inode: its context is replaced.

Protocol: one JSON object a line on stdin {"id", "ns", "script", "json", "echo"} (no "ns": the
helper's own namespace, which is the agent's), one a line on
stdout {"id", "rc", "out", "err"}. The first line written is {"ready": true} or {"ready": false,
"err": ...} (python3-nftables missing: the caller falls back to one `nft` process per change).
EOF on stdin ends the helper (the agent exited).

A request {"id", "ns", "routes": [{"gateway", "dev", "table"}]} instead replaces those default
routes by rtnetlink (rtnl_routes.py) inside the namespace: a service chain's failover costs no `ip`
process either. Answered like a script, {"id", "rc", "out": "", "err"}.
"""
import json
import os
import sys

# The helpers run from the source tree (a lab's /srv): no __pycache__ written into it.
sys.dont_write_bytecode = True
import rtnl_routes
from netns_enter import inside, netns_path


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


try:
    import nftables
except ImportError as err:
    say({"ready": False, "err": f"python3-nftables is not installed ({err})"})
    sys.exit(0)

# namespace name -> (inode of /run/netns/<name>, context)
contexts = {}


home_context = None


def context(ns):
    global home_context
    if ns is None:
        # The helper's own namespace (the agent's: it runs inside its hypervisor), no setns needed.
        if home_context is None:
            home_context = nftables.Nftables()
        return home_context
    inode = os.stat(netns_path(ns)).st_ino
    have = contexts.get(ns)
    if have and have[0] == inode:
        return have[1]
    with inside(ns):
        ctx = nftables.Nftables()
    contexts[ns] = (inode, ctx)
    return ctx


def forget_gone():
    """Contexts of deleted namespaces keep them alive: drop them."""
    for ns, (inode, _) in list(contexts.items()):
        try:
            if os.stat(f"/run/netns/{ns}").st_ino == inode:
                continue
        except OSError:
            pass
        del contexts[ns]


def replace_routes(ns, routes):
    with inside(ns):
        rtnl_routes.replace_defaults(routes)
    return {"rc": 0, "out": "", "err": ""}


def serve(req):
    ns = req.get("ns")
    if "routes" in req:
        return replace_routes(ns, req["routes"])
    ctx = context(ns)
    ctx.set_json_output(bool(req.get("json")))
    ctx.set_handle_output(bool(req.get("json")))
    ctx.set_echo_output(bool(req.get("echo")))
    # From a file, not a buffer: libnftables 1.0.6 quotes the buffer's FIRST line in a parse error,
    # where from a file it names the failing line (file:line:col), as `nft -f -` does.
    fd = os.memfd_create("nft-script")
    try:
        os.write(fd, req["script"].encode())
        rc, out, err = ctx.cmd_from_file(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
    return {"rc": rc, "out": out, "err": err.replace(f"/proc/self/fd/{fd}", f"nft script in {ns or 'the agent namespace'}")}


say({"ready": True, "pid": os.getpid()})
for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    try:
        forget_gone()
        res = serve(req)
    except Exception as err:  # noqa: BLE001 - every failure is the request's answer, never the helper's end
        res = {"rc": -1, "out": "", "err": f"{type(err).__name__}: {err}"}
    res["id"] = req.get("id")
    say(res)
