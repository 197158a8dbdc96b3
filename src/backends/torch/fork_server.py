#!/usr/bin/env python3
"""
clipql's torch fork server: one process per interpreter, worker folder and environment in a clipql process
(fork-server.ts starts it), that imports torch and the worker's modules once and then forks a
worker for each request. A worker start then costs a fork and the model's load instead of
Python's and torch's start (about 2.5 s of CPU here, most of a tiny model's start), and the
workers share torch's pages with this process.

    fork_server.py DIR        imports torch and DIR's worker modules, listens on a Unix socket in a private folder, and
                              writes "ready PATH" on stdout; ends when its stdin closes (its
                              owner is gone) or it is killed
    fork_client.py            what the backend spawns for a worker (cheap: no torch); sends its
                              stdin, stdout and stderr, argv, environment and folder here

For each request this process forks; the child puts the client's three descriptors on 0, 1 and 2,
takes its environment and folder, and runs the worker script as `python -u SCRIPT ARGS` would.
This process then tells the client the child's pid, reaps the child, and sends its end
("exit N" or "signal N"), which the client reproduces as its own: to the backend, the client's
process is the worker. The client's death (the backend killed it) closes its connection; the
child is then killed here.

Safe to fork because this process never runs a torch operation and never touches the GPU: no
intra-op thread pool exists yet and CUDA/HIP is not initialised (the rule torch's DataLoader
workers rely on on Linux); the child sets its threads, niceness and device itself (worker.py).
"""
import json
import os
import selectors
import signal
import socket
import struct
import sys
import tempfile
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

MAX_REQUEST = 16 << 20


def set_parent_death_signal():
    """Linux: end with the clipql process even when it is killed without closing our stdin."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def preload():
    """torch and the worker's modules, as worker.py imports them. Raises when torch is missing."""
    import torch

    import frames  # noqa: F401
    import pipeline  # noqa: F401
    import runner  # noqa: F401
    import torchscript  # noqa: F401

    if torch.cuda.is_initialized():  # never true unless an import above changed: then forking is unsafe
        raise RuntimeError("CUDA/HIP was initialised while importing; forking workers from here is unsafe")


def receive(conn):
    """One request: (json, [fd0, fd1, fd2]). The descriptors come with the first bytes."""
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    if len(fds) != 3 or len(data) < 4:
        for fd in fds:
            os.close(fd)
        raise ValueError("a request needs 3 descriptors and a length")
    (n,) = struct.unpack("<I", data[:4])
    if n > MAX_REQUEST:
        raise ValueError("request of %d bytes" % n)
    body = bytearray(data[4:])
    while len(body) < n:
        chunk = conn.recv(min(1 << 20, n - len(body)))
        if not chunk:
            raise ValueError("the client hung up mid-request")
        body += chunk
    return json.loads(bytes(body)), fds


def run_child(request, fds):
    """In the forked child: become `python -u SCRIPT ARGS` with the client's stdio. Never returns."""
    code = 1
    try:
        for i, fd in enumerate(fds):
            os.dup2(fd, i)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        argv = request["argv"]
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
        import runpy

        try:
            runpy.run_path(argv[0], run_name="__main__")
            code = 0
        except SystemExit as e:
            if e.code is None:
                code = 0
            elif isinstance(e.code, int):
                code = e.code
            else:
                sys.stderr.write("%s\n" % (e.code,))
                code = 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code & 0xFF)


class Server:
    def __init__(self, path):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        self.sel = selectors.DefaultSelector()
        self.children = {}  # pid -> the client's connection
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup fd is written
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.sel.register(0, selectors.EVENT_READ, "owner")
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")

    def serve(self):
        while True:
            for key, _ in self.sel.select():
                what = key.data
                if what == "accept":
                    self.accept()
                elif what == "owner":
                    if not os.read(0, 4096):
                        return self.end()  # the clipql process closed our stdin: it is gone or done
                elif what == "wake":
                    os.read(self.wake_r, 4096)
                    self.reap()
                else:  # a client's connection: readable only when it hangs up
                    self.client_gone(key.fileobj, what)

    def end(self):
        """Kills and reaps the workers still here, so that none outlives us as an orphan."""
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in list(self.children):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass

    def accept(self):
        conn, _ = self.listener.accept()
        try:
            conn.settimeout(10)
            request, fds = receive(conn)
        except (OSError, ValueError) as e:
            sys.stderr.write("fork server: bad request: %s\n" % e)
            conn.close()
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: "multi-threaded" (OpenBLAS's idle pool; see the docstring)
                pid = os.fork()
        except OSError as e:  # EAGAIN, ENOMEM: this start fails (the client says so), the server goes on
            sys.stderr.write("fork server: fork failed: %s\n" % e)
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        if pid == 0:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh python
            self.sel.close()
            self.listener.close()
            os.close(self.wake_r)
            os.close(self.wake_w)
            for c in self.children.values():
                c.close()
            conn.close()
            run_child(request, fds)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        try:
            conn.settimeout(None)
            conn.sendall(b"pid %d\n" % pid)
        except OSError:
            pass  # the client is gone: its hang-up is seen below
        self.sel.register(conn, selectors.EVENT_READ, pid)

    def client_gone(self, conn, pid):
        self.sel.unregister(conn)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def reap(self):
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            end = b"signal %d\n" % os.WTERMSIG(status) if os.WIFSIGNALED(status) else b"exit %d\n" % os.WEXITSTATUS(status)
            try:
                self.sel.unregister(conn)
            except (KeyError, ValueError):
                pass
            try:
                conn.sendall(end)
            except OSError:
                pass
            conn.close()


def main():
    set_parent_death_signal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the server; we end when it does
    sys.path[0] = os.path.abspath(sys.argv[1])  # the worker script's folder: its modules are the ones preloaded
    try:
        preload()
    except Exception as e:
        sys.stderr.write("fork server: cannot import torch and the worker's modules: %s: %s\n" % (type(e).__name__, e))
        return 2
    folder = tempfile.mkdtemp(prefix="clipql-torch-")  # mode 0700: only this user may connect
    path = os.path.join(folder, "fork.sock")
    try:
        server = Server(path)
        sys.stdout.write("ready %s\n" % path)
        sys.stdout.flush()
        server.serve()
    finally:
        for p in (path, folder):
            try:
                (os.unlink if p == path else os.rmdir)(p)
            except OSError:
                pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # at once: tearing down torch's modules takes a while and serves nothing


if __name__ == "__main__":
    sys.exit(main())
