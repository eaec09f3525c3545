"""ansible-playbook on the small playbooks of this folder, as the tests here run them (one way, for all of them)."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(os.environ.get("ANSIBLE_PLAYBOOK", REPO / ".venv" / "bin" / "ansible-playbook"))


def run_playbook(
    playbook: Path, extra_vars: dict | None = None, inventory: Path | None = None
) -> subprocess.CompletedProcess:
    """ansible-playbook on localhost (or on `inventory`) with the repository's ansible.cfg; output kept as .output."""
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.fail(f"{ANSIBLE_PLAYBOOK} is missing: run `make venv` first")
    command = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory) if inventory else "localhost,", str(playbook)]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    result.output = result.stdout + result.stderr
    return result


def failed_task(result) -> str:
    """The name of the task that failed (the last TASK header before the first 'fatal:')."""
    head = result.output.split("fatal:", 1)[0]
    names = re.findall(r"^TASK \[(.*?)\]", head, flags=re.MULTILINE)
    return names[-1] if names else ""
