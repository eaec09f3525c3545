"""gunicorn settings of every benchmarked app: the app's own (`comments_api.gunicorn_conf`), plus
one step in a hook that costs nothing per request.

worker_exit runs in each worker as it exits (after its last request). Before the app's own
worker_exit (if it has one), it writes the names of the modules the worker had imported while
serving to $BENCH_MODULES_DIR/<pid>.txt, so the benchmark can show from outside the app which
libraries its workers really loaded (no `opentelemetry` with tracing off).
"""

import os
import sys

from comments_api import gunicorn_conf as _app_conf
from comments_api.gunicorn_conf import *  # noqa: F403 (every setting the app runs with)


def worker_exit(server, worker):
    directory = os.environ.get("BENCH_MODULES_DIR")
    if directory:
        with open(os.path.join(directory, f"{os.getpid()}.txt"), "w") as out:
            out.write("\n".join(sorted(sys.modules)) + "\n")
    app_hook = getattr(_app_conf, "worker_exit", None)
    if app_hook:
        app_hook(server, worker)
