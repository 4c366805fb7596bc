"""The agent's persistent nftables session (reference-impl/agent/nft-session.ts): applies nft scripts
in named network namespaces through libnftables, so a change costs no process start (an `nft`
process costs 200-290 ms to start on a busy 2-core machine; a batch here costs a few ms).

libnftables binds its netlink socket to the namespace the context is created in, so there is one
context per namespace, created after setns() into it; the helper then returns to its own namespace.
A namespace deleted and created again under the same name is a new inode: its context is replaced.

Protocol: one JSON object a line on stdin {"id", "ns", "script", "json", "echo"} (no "ns": the
helper's own namespace, which is the agent's) or {"id", "op": "netns-add", "ns", "sysctls"}, one a line on
stdout {"id", "rc", "out", "err"}. The first line written is {"ready": true} or {"ready": false,
"err": ...} (python3-nftables missing: the caller falls back to one `nft` process per change).
EOF on stdin ends the helper (the agent exited).

A request {"id", "ns", "routes": [{"gateway", "dev", "table"}]} instead replaces those default
routes by rtnetlink (rtnl_routes.py) inside the namespace: a service chain's failover costs no `ip`
process either. Answered like a script, {"id", "rc", "out": "", "err"}.

A request {"id", "op": "ip-lines", "ns", "lines"} applies a VM namespace's `ip -batch` lines by
rtnetlink (rtnl_vm.py): an attach configures its VM without an `ip` process. rc 95: a line is not a
form the helper handles (the caller runs `ip`); rc 1: some lines failed, "err" names them.
"""
import ctypes
import json
import os
import sys

# The helpers run from the source tree (a lab's /srv): no __pycache__ written into it.
sys.dont_write_bytecode = True
import rtnl_routes
import rtnl_vm
from netns_enter import CLONE_NEWNET, HOME, inside, libc, netns_path


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


def ip_lines(ns, lines):
    ops = rtnl_vm.parse(lines)
    if ops is None:
        return {"rc": 95, "out": "", "err": "a line the helper does not handle"}
    with inside(ns):
        errors = rtnl_vm.apply(ops, lines)
    return {"rc": 1 if errors else 0, "out": "", "err": "\n".join(errors)}


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


MS_BIND = 4096
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]


netns_dir_seen = False


def netns_dir_mounted():
    """Whether `ip netns add` has made /run/netns its mount (once seen, not read again: mountinfo has a
    line per named namespace, and an attach must not cost what the lab's size does)."""
    global netns_dir_seen
    if not netns_dir_seen:
        # A bind mount of the same file system (what `ip netns add` makes) escapes os.path.ismount.
        with open("/proc/self/mountinfo") as f:
            netns_dir_seen = any(line.split()[4] == "/run/netns" for line in f)
    return netns_dir_seen


def netns_add(req):
    """A named namespace as `ip netns add` makes it (a bind mount of a new network namespace on
    /run/netns/<name>), and its sysctls written from inside it, without starting a process: an attach
    creates a VM namespace, and two process starts (`ip netns add`, `ip netns exec ... sysctl`) were
    most of its time on a busy machine. rc 17: the name exists (the caller takes its full path);
    rc 2: /run/netns is not yet the shared mount `ip netns add` makes it (the caller uses `ip`)."""
    path = netns_path(req["ns"])
    if not netns_dir_mounted():
        return {"rc": 2, "out": "", "err": "/run/netns is not set up yet"}
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    except FileExistsError:
        return {"rc": 17, "out": "", "err": f"{path} exists"}
    if libc.unshare(CLONE_NEWNET) != 0:
        os.unlink(path)
        return {"rc": 1, "out": "", "err": f"unshare: {os.strerror(ctypes.get_errno())}"}
    try:
        if libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None) != 0:
            err = os.strerror(ctypes.get_errno())
            os.unlink(path)
            return {"rc": 1, "out": "", "err": f"bind mount {path}: {err}"}
        # /proc/sys/net is the namespace of the task that opens it: this one's, until setns below.
        for key, value in req.get("sysctls", []):
            with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                f.write(value)
        return {"rc": 0, "out": "", "err": ""}
    finally:
        if libc.setns(HOME, CLONE_NEWNET) != 0:
            os._exit(3)


say({"ready": True, "pid": os.getpid()})
for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    try:
        forget_gone()
        op = req.get("op")
        if op == "netns-add":
            res = netns_add(req)
        elif op == "ip-lines":
            res = ip_lines(req["ns"], req["lines"])
        else:
            res = serve(req)
    except Exception as err:  # noqa: BLE001 - every failure is the request's answer, never the helper's end
        res = {"rc": -1, "out": "", "err": f"{type(err).__name__}: {err}"}
    res["id"] = req.get("id")
    say(res)
