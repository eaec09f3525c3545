#!/usr/bin/env bash
# `ansible-test sanity` on this collection with the repository's pinned venv (`make sanity`).
#
# ansible-test builds one virtual environment per sanity test (--venv) and installs its pinned
# linters there from PyPI. Before that it bootstraps pip in each new venv with a get-pip script
# that it downloads from a host this machine cannot reach, unless a copy is cached under
# ~/.ansible/test/cache/. We cache a small stand-in: it runs `python -m ensurepip` in a
# subprocess (in-process ensurepip switches pip's configuration off, and with it the CA and
# index settings) and then `python -m pip install` with the arguments ansible-test gave it.
set -euo pipefail

collection_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo_dir="$(cd "$collection_dir/../../../.." && pwd)"
venv="${VENV:-$repo_dir/.venv}"
[[ "$venv" = /* ]] || venv="$repo_dir/$venv"
python_version=3.11

if [[ ! -x "$venv/bin/ansible-test" ]]; then
  echo "sanity.sh: $venv/bin/ansible-test is missing; run 'make venv' first." >&2
  exit 1
fi

# Without shellcheck, ansible-test skips its shellcheck test with a mere warning and still reports success.
if ! command -v shellcheck >/dev/null; then
  echo "sanity.sh: shellcheck is missing (apt-get install shellcheck); its sanity test would be skipped." >&2
  exit 1
fi

# The pip version ansible-test bootstraps, and the cache file name it looks for.
pip_version="$("$venv/bin/python" - "$python_version" <<'PY'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))['pip'])
PY
)"
cache_file="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache_file")"
cat > "$cache_file" <<'PY'
"""Stand-in for get-pip.py written by infra.comments' tests/sanity.sh: ensurepip, then pip install."""
import subprocess
import sys

# Options that only get-pip.py understands; pip install would reject them.
GET_PIP_ONLY = {'--no-setuptools', '--no-wheel'}

subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'])
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + [a for a in sys.argv[1:] if a not in GET_PIP_ONLY])
PY

cd "$collection_dir"
# ansible-test lists the collection's files with git: it must run inside the clone.
exec "$venv/bin/ansible-test" sanity --venv --python "$python_version" --color no "$@"
