"""Loopback helpers: a free port, waiting for a condition, a network namespace of one's own."""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    """predicate()'s first true result, polled every `interval` s; TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class NetworkNamespace:
    """A network namespace of the caller's own (`ip netns add`), loopback up: a private 127.0.0.1 to break.

    A thread moves into it with entered() (and back at the end of the block); the processes it starts
    from inside (PostgreSQL, gunicorn) are born in it, as are its sockets, so servers and clients talk
    over the namespace's loopback only, and a packet filter rule applied there (run("iptables", ...))
    touches nothing else. destroy() kills every process left in it and deletes it. Needs root
    (CAP_SYS_ADMIN and CAP_NET_ADMIN), as CI runs: anything else raises RuntimeError saying so.
    """

    def __init__(self, prefix: str = "comments-test"):
        if os.geteuid() != 0:
            raise RuntimeError(
                "a network namespace needs root (ip netns add, iptables): run the app's tests as root, as CI does"
            )
        for program, package in (("ip", "iproute2"), ("iptables", "iptables")):
            if shutil.which(program) is None:
                raise RuntimeError(f"{program} not found: install Debian's {package!r} package (.ci/run does)")
        self.name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.path = f"/run/netns/{self.name}"
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        try:
            self.run("ip", "link", "set", "lo", "up")
        except BaseException:
            self.destroy()
            raise

    def run(self, *command: str) -> str:
        """`command` inside the namespace (`ip netns exec`), from any thread; its output. Fails loudly."""
        result = subprocess.run(["ip", "netns", "exec", self.name, *command], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} in {self.name} failed ({result.returncode}): {result.stderr}")
        return result.stdout

    @contextmanager
    def entered(self):
        """This thread inside the namespace for the block, back where it was afterwards."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            self.enter_for_good()
            try:
                yield self
            finally:
                _setns(home)
        finally:
            os.close(home)

    def enter_for_good(self) -> None:
        """This thread inside the namespace until it ends: the initializer of a client thread pool."""
        target = os.open(self.path, os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)

    def pids(self) -> list[int]:
        """The processes in the namespace (`ip netns pids`; this process never, even if a thread is inside)."""
        listed = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True).stdout
        return [pid for pid in map(int, listed.split()) if pid != os.getpid()]

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def destroy(self, timeout: float = 10) -> None:
        """Kill every process in the namespace (SIGKILL), wait until none is left, delete the namespace."""
        if not self.exists():
            return

        def emptied():
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return not self.pids()

        wait_until(emptied, timeout, f"the processes of network namespace {self.name} to exit")
        subprocess.run(["ip", "netns", "delete", self.name], check=True, capture_output=True)


_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    """setns(2) for the calling thread only (Python 3.11 has no os.setns)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns into a network namespace: {os.strerror(errno)}")
