"""Process accounting from /proc: CPU time of a process tree, of the whole machine, and how a
gunicorn master's workers share the client connections."""

import os
import time
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def processes() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, CPU ticks): user + system time of the process and of the children it reaped.

    Reaped children count because a PostgreSQL backend that exits during a measurement (its
    connection closed) must not take its CPU time with it.
    """
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        table[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    return table


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (not idle, not waiting for I/O)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLK_TCK


def descendants(root: int, table: dict) -> set[int]:
    """`root` and every process below it in `table` (from processes())."""
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, (ppid, _) in table.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


def cpu_seconds(root: int | None) -> float:
    """CPU seconds used so far by process `root` and all its descendants (0 for None)."""
    if root is None:
        return 0.0
    table = processes()
    return sum(table[pid][1] for pid in descendants(root, table) if pid in table) / CLK_TCK


def established_socket_inodes(port: int) -> set[str]:
    """The `socket:[inode]` names of established TCP connections whose local port is `port`."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
                inodes.add(f"socket:[{f[9]}]")
    return inodes


def connections_per_worker(master: int, port: int) -> list[int]:
    """How many established connections to `port` each gunicorn worker (child of `master`) holds."""
    inodes = established_socket_inodes(port)
    counts = []
    for pid, (ppid, _) in processes().items():
        if ppid != master:
            continue
        held = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    held += os.readlink(fd) in inodes
                except OSError:
                    pass
        except OSError:
            continue
        counts.append(held)
    return sorted(counts)


@dataclass
class CpuUse:
    """CPU seconds used during one measurement, by whom; wall seconds it lasted."""

    app: float  # the gunicorn master and its workers
    db: float  # the PostgreSQL server (postmaster and backends), 0 without one
    others: float  # everything else on the machine but wrk and this process, in seconds
    wall: float

    @property
    def others_cores(self) -> float:
        return max(self.others, 0.0) / self.wall


class CpuMeter:
    """Measures a stretch of time: start(), then stop() once the load generator has been reaped.

    wrk runs as this process's child, so its CPU is in os.times()'s children fields once it has
    been waited for; this process's own CPU is in the same call's user/system fields.
    """

    def __init__(self, app_pid: int, db_pid: int | None):
        self.app_pid, self.db_pid = app_pid, db_pid

    def start(self) -> None:
        self._app, self._db = cpu_seconds(self.app_pid), cpu_seconds(self.db_pid)
        self._busy, self._mine, self._wall = machine_busy_seconds(), os.times(), time.monotonic()

    def stop(self) -> CpuUse:
        app, db = cpu_seconds(self.app_pid) - self._app, cpu_seconds(self.db_pid) - self._db
        now, mine = os.times(), self._mine
        load_generator = now.children_user + now.children_system - mine.children_user - mine.children_system
        own = now.user + now.system - mine.user - mine.system
        others = machine_busy_seconds() - self._busy - app - db - load_generator - own
        return CpuUse(app, db, others, time.monotonic() - self._wall)
