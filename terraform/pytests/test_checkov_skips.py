"""checkov runs with no unexplained skips: every inline skip names a check and gives a reason,
and the configuration file skips no check wholesale."""

import re
from pathlib import Path

import yaml

from conftest import TERRAFORM_DIR

SKIP = re.compile(r"#\s*checkov:skip=([^:\s]*)(?::(.*))?")


def inline_skips(directory):
    for path in sorted(Path(directory).glob("*.tf")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = SKIP.search(line)
            if match:
                yield f"{path.name}:{number}", match.group(1), (match.group(2) or "").strip()


def unexplained(directory):
    return [
        f"{where}: {check or '(no check id)'}"
        for where, check, reason in inline_skips(directory)
        if not re.fullmatch(r"CKV2?_[A-Z]+_\d+", check) or len(reason) < 20
    ]


def test_every_inline_skip_names_a_check_and_says_why():
    assert list(inline_skips(TERRAFORM_DIR)), "expected the documented inline skips"
    assert unexplained(TERRAFORM_DIR) == []


def test_the_configuration_skips_no_check_wholesale():
    config = yaml.safe_load((TERRAFORM_DIR / ".checkov.yml").read_text())
    assert not config.get("skip-check"), "skip checks inline, next to the resource, with the reason"
    assert config.get("framework") == ["terraform"]


def test_a_skip_without_reason_is_caught(tmp_path):
    (tmp_path / "main.tf").write_text('resource "x" "y" {\n  #checkov:skip=CKV_GCP_40\n}\n')
    assert unexplained(tmp_path) == ["main.tf:2: CKV_GCP_40"]
