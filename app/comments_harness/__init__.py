"""Real servers for the tests and the benchmark: a throwaway PostgreSQL cluster and the app under gunicorn.

Everything listens on 127.0.0.1 on a free port. No mocks: the tests talk HTTP to gunicorn, and
gunicorn talks to a real SQLite file or a real PostgreSQL server. Used by app/tests, app/bench and
playbooks/tests; never by the app itself (it is not in the image).
"""

from .net import NetworkNamespace, free_port, wait_until
from .otlp import OtlpReceiver
from .postgres import PostgresCluster, postgres_bindir
from .server import AppServer, comments_api_command

__all__ = [
    "AppServer",
    "NetworkNamespace",
    "OtlpReceiver",
    "PostgresCluster",
    "comments_api_command",
    "free_port",
    "postgres_bindir",
    "wait_until",
]
