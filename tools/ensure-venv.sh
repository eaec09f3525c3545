#!/usr/bin/env bash
# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# ensure-venv.sh VENV PYTHON INPUT... -- PIP-ARGS... [--then PIP-ARGS...]
#
# The Makefile's virtual environments: VENV is (re)built from scratch, with `pip install PIP-ARGS` (and each
# `--then` group after it), unless it is already good: its interpreter runs, and its stamp VENV/.installed holds the
# sha256 of what it was built from (PYTHON's version and the INPUT files' contents). So a venv whose python links to
# a folder that is gone, or whose requirements changed (content, not mtime: a checkout touches every file), is
# rebuilt instead of failing later with "No such file or directory". A stamp from before this script (empty, written
# by `touch`) is taken over when it is newer than every input and the interpreter runs: no rebuild for that alone.
set -euo pipefail

venv=${1:?usage: ensure-venv.sh VENV PYTHON INPUT... -- PIP-ARGS... [--then PIP-ARGS...]}
python=${2:?usage: ensure-venv.sh VENV PYTHON INPUT... -- PIP-ARGS...}
shift 2
inputs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do inputs+=("$1"); shift; done
[ "${1:-}" = "--" ] || { echo "ensure-venv.sh: no -- before the pip arguments" >&2; exit 2; }
shift
for input in "${inputs[@]}"; do
  [ -f "$input" ] || { echo "ensure-venv.sh: $input (an input of $venv) does not exist" >&2; exit 1; }
done

want=$({ "$python" --version 2>&1; cat "${inputs[@]}"; } | sha256sum | cut -d' ' -f1)
stamp="$venv/.installed"
reason=
if ! "$venv/bin/python" -c '' 2>/dev/null; then
  [ -e "$venv" ] && reason="its interpreter $venv/bin/python does not run"
elif [ ! -f "$stamp" ]; then
  reason="it has no stamp $stamp"
elif [ ! -s "$stamp" ]; then
  newer=$(find "${inputs[@]}" -newer "$stamp" | head -1)
  if [ -z "$newer" ]; then echo "$want" > "$stamp"; exit 0; fi
  reason="$newer changed after it was built"
elif [ "$(cat "$stamp")" != "$want" ]; then
  reason="what it is built from changed (${inputs[*]}, or $python's version)"
else
  exit 0
fi

if [ -e "$venv" ]; then
  # Only ever remove what is a venv (its pyvenv.cfg) or a leftover of one: never a folder someone named by mistake.
  [ -f "$venv/pyvenv.cfg" ] || [ -f "$stamp" ] \
    || { echo "ensure-venv.sh: $venv exists but is no virtual environment; not touching it" >&2; exit 1; }
  echo "ensure-venv.sh: rebuilding $venv: $reason"
  rm -rf "$venv"
fi
"$python" -m venv "$venv"
group=()
for arg in "$@" --then; do
  if [ "$arg" = "--then" ]; then
    [ ${#group[@]} -eq 0 ] || "$venv/bin/pip" install -q "${group[@]}"
    group=()
  else
    group+=("$arg")
  fi
done
echo "$want" > "$stamp"
