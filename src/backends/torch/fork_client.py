#!/usr/bin/env python3
"""
A torch worker started through the fork server (fork_server.py): `python -I -S fork_client.py
SOCKET SCRIPT ARGS...` behaves, to its parent, as `python -u SCRIPT ARGS...` would. It hands its
stdin, stdout, stderr, argv, environment and folder to the fork server, which forks the worker
with them; it forwards SIGTERM, SIGINT and SIGHUP to the worker and ends as the worker ended
(the same exit status, or the same signal). Killed itself (SIGKILL), it hangs up, and the fork
server kills the worker. Imports nothing heavy: it starts in milliseconds (-I -S: no site).

Exit 70 when the fork server cannot be reached or ends before the worker (the backend then
restarts the worker as after any death); its reason on stderr.
"""
import json
import os
import signal
import socket
import struct
import sys


def fail(message):
    sys.stderr.write("torch fork client: %s\n" % message)
    sys.stderr.flush()
    os._exit(70)


def main():
    path, argv = sys.argv[1], sys.argv[2:]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        body = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
        socket.send_fds(conn, [struct.pack("<I", len(body)) + body], [0, 1, 2])
    except OSError as e:
        fail("cannot reach the fork server at %s: %s" % (path, e))
    stream = conn.makefile("rb")
    line = stream.readline()
    if not line.startswith(b"pid "):
        fail("the fork server did not start the worker")
    pid = int(line[4:])

    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    end = stream.readline().split()
    if len(end) != 2 or end[0] not in (b"exit", b"signal"):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        fail("the fork server ended before the worker (pid %d)" % pid)
    n = int(end[1])
    if end[0] == b"exit":
        os._exit(n)
    try:
        signal.signal(n, signal.SIG_DFL)
    except (OSError, ValueError):
        pass  # SIGKILL and SIGSTOP have no handler to reset
    os.kill(os.getpid(), n)
    os._exit(128 + n)  # a signal that does not end a process by default


if __name__ == "__main__":
    main()
