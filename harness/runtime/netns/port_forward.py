"""Published port of a netns lab node (containerlab `ports:`): listens on a host address and port
in the host network namespace, then enters the lab's management namespace, so every accepted
connection is relayed to the node's management address. Started by ports.ts with argv[0] set to
the lab's process marker, so destroy recognises it as the lab's own.

usage: port_forward.py <mgmt netns path> <listen address> <listen port> <target address> <target port>
"""
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def relay(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(client, target):
    try:
        upstream = socket.create_connection(target, timeout=5)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=relay, args=(upstream, client), daemon=True)
    back.start()
    relay(client, upstream)
    back.join()
    client.close()
    upstream.close()


def announce_ready():
    # One write of the whole line (print may split it in two under PYTHONUNBUFFERED, and the
    # runtime closes the pipe once it has read the line), then stdout goes to /dev/null: nothing
    # written later can raise BrokenPipeError and end the forwarder.
    try:
        os.write(1, b"ready\n")
    except BrokenPipeError:
        pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def main():
    netns, address, port, target_address, target_port = sys.argv[1:6]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((address, int(port)))
    except OSError as err:
        print(f"error cannot listen on {address}:{port}: {err.strerror}", flush=True)
        sys.exit(3)
    listener.listen(64)
    # The listener stays in the host namespace; sockets made from here on are in the lab's.
    fd = os.open(netns, os.O_RDONLY)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        print(f"error setns {netns}: {os.strerror(ctypes.get_errno())}", flush=True)
        sys.exit(4)
    os.close(fd)
    announce_ready()
    target = (target_address, int(target_port))
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, target), daemon=True).start()


main()
