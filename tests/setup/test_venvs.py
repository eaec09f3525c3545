# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make venv` (tools/ensure-venv.sh, which app-venv and checkov-venv use too) rebuilds a venv that is broken on
purpose, and one whose requirements changed, and leaves a good one alone. Each test makes its own venv under a
temporary folder (VENV=...) from a requirements file with nothing to install (TOOLING_REQUIREMENTS=...): no download,
and the shared .venv is never touched."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def make_venv(venv, requirements):
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "VIRTUAL_ENV")}
    return subprocess.run(
        ["make", "-s", "-C", str(REPO), "venv", "VENV=%s" % venv, "TOOLING_REQUIREMENTS=%s" % requirements],
        env=env,
        capture_output=True,
        text=True,
    )


def runs(venv):
    try:
        return subprocess.run([str(venv / "bin" / "python"), "-c", ""], capture_output=True).returncode == 0
    except OSError:  # a dangling bin/python
        return False


def test_make_venv_rebuilds_a_broken_venv_and_a_changed_one_and_leaves_a_good_one_alone(tmp_path):
    """One venv through its life (three builds, each a few seconds of `python -m venv`)."""
    venv, requirements = tmp_path / "venv", tmp_path / "requirements.txt"
    stamp, marker = venv / ".installed", venv / "left-alone"  # the marker is gone after a rebuild
    requirements.write_text("# nothing to install\n")
    result = make_venv(venv, requirements)
    assert result.returncode == 0, result.stderr
    assert runs(venv) and len(stamp.read_text().strip()) == 64
    marker.write_text("")

    # Good: left alone, silently.
    result = make_venv(venv, requirements)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    assert marker.exists()

    # A stamp the old Makefile left (`touch`, empty), no input newer: taken over, no rebuild.
    stamp.write_text("")
    assert make_venv(venv, requirements).stdout == ""
    assert marker.exists() and len(stamp.read_text().strip()) == 64

    # Broken on purpose, as on a checkout used for a while: python links to an interpreter folder that was removed.
    python = venv / "bin" / "python"
    python.unlink()
    python.symlink_to("/nonexistent-python-prefix/bin/python3")
    assert not runs(venv)
    result = make_venv(venv, requirements)
    assert result.returncode == 0, result.stderr
    assert "rebuilding %s: its interpreter %s/bin/python does not run" % (venv, venv) in result.stdout
    assert runs(venv) and not marker.exists()
    marker.write_text("")

    # Requirements changed (their content; the mtime alone would not say it after a checkout).
    before = stamp.read_text()
    requirements.write_text("# nothing to install, said differently\n")
    result = make_venv(venv, requirements)
    assert result.returncode == 0, result.stderr
    assert "rebuilding %s: what it is built from changed" % venv in result.stdout
    assert runs(venv) and not marker.exists() and stamp.read_text() != before


def test_a_folder_that_is_no_venv_is_never_removed(tmp_path):
    folder, requirements = tmp_path / "not-a-venv", tmp_path / "requirements.txt"
    requirements.write_text("")
    folder.mkdir()
    (folder / "precious").write_text("")
    result = make_venv(folder, requirements)
    assert result.returncode != 0
    assert "%s exists but is no virtual environment; not touching it" % folder in result.stderr
    assert (folder / "precious").exists()
