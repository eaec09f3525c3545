"""What PostgreSQL was asked per request: statements (pg_stat_statements) and round trips (TCP).

Statements: the bench's cluster preloads pg_stat_statements, whose counters are updated as each
statement ends (unlike pg_stat_database's, which backends flush at most once a second); the
counters are reset before a measurement and read after it, for one database.

Round trips: `ss -ti` reports, per TCP socket, the segments that carried data (data_segs_out).
Summed over the app's own sockets to the server's port, their growth is the number of messages
the app sent to PostgreSQL: on loopback (64 KiB segments) a query fits one segment, and the app
waits for the answer before it sends the next one, so that is its round trips.
"""

import re
import subprocess

import psycopg
from accounting import descendants, processes

PRELOAD = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track_utility": "on"}
_USERS = re.compile(r"pid=(\d+)")
_DATA_SEGS_OUT = re.compile(r"\bdata_segs_out:(\d+)")


def install(admin_url: str) -> None:
    """Create the extension (in the admin database; its view covers every database)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def reset(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


def statements(admin_url: str, database: str) -> dict[str, int]:
    """Statement text -> calls in `database` since the last reset."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT s.query, sum(s.calls)::bigint FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = %s GROUP BY s.query",
            (database,),
        ).fetchall()
    return dict(rows)


def data_segments_sent(root_pid: int, server_port: int) -> int:
    """Data segments sent so far to 127.0.0.1:`server_port` by the sockets of `root_pid`'s process tree."""
    tree = descendants(root_pid, processes())
    out = subprocess.run(
        ["ss", "-tinpH", "state", "established", f"( dport = :{server_port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = 0
    # One socket per entry: a line with the addresses and users:((...pid=N...)), then its tcp_info.
    for entry in re.split(r"\n(?=\S)", out.strip()):
        pids = {int(p) for p in _USERS.findall(entry)}
        sent = _DATA_SEGS_OUT.search(entry)
        if pids & tree and sent:
            total += int(sent.group(1))
    return total


def short(query: str, width: int = 70) -> str:
    """A statement on one line, cut to `width` characters."""
    text = " ".join(query.split())
    return text if len(text) <= width else text[: width - 1] + "…"
