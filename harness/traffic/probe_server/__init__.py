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

Modules: common (output, errors, scapy), namespaces, probes, packets, streams, loop (the server).
"""
