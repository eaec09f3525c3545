#!/usr/bin/env bash
# `make bench`: run the benchmark with the app's venv (made by `make app-venv`) and write
# app/BENCHMARKS.md. Arguments go to run.py (--help lists them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${APP_PYTHON:-$here/../../.venv-app/bin/python}
[[ -x $python ]] || { echo "bench: $python not found; run 'make app-venv' first." >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench: wrk is not installed (Debian: apt-get install wrk)." >&2; exit 1; }
exec "$python" "$here/run.py" "$@"
