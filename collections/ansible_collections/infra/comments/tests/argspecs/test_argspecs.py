"""Each role rejects a wrong variable before any change, with a message that names the variable.

The role runs on localhost (connection local) in check mode, as a safety net should validation ever let a value
through: the test then fails because a task other than validation ran, and nothing on this machine changes.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

COLLECTION_DIR = Path(__file__).resolve().parents[2]
REPO_ROOT = COLLECTION_DIR.parents[3]
ROLES = sorted(path.name for path in (COLLECTION_DIR / "roles").iterdir() if (path / "tasks").is_dir())
CASES_FILE = Path(__file__).with_name("cases.yml")
VALIDATION_ACTIONS = {"ansible.builtin.validate_argument_spec", "ansible.builtin.assert", "ansible.builtin.fail"}

# A value that the type check cannot convert, per argument_specs type; str, path and raw accept (convert) anything.
WRONG_BY_TYPE = {
    "int": "not-a-number",
    "float": "not-a-number",
    "bool": "maybe",
    "list": {"not": "a list"},
    "dict": ["not", "a", "dict"],
}


def argument_spec(role):
    path = COLLECTION_DIR / "roles" / role / "meta" / "argument_specs.yml"
    return yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"]


def generated_cases(role):
    """One wrong value per option the spec can reject by type or by choices."""
    cases = []
    for name, option in sorted(argument_spec(role).items()):
        if option.get("choices"):
            wrong = -424242 if all(isinstance(c, int) for c in option["choices"]) else "not-one-of-the-choices"
        elif option.get("type", "str") in WRONG_BY_TYPE:
            wrong = WRONG_BY_TYPE[option.get("type", "str")]
        else:
            continue
        cases.append({"variable": name, "vars": {name: wrong}, "message": "argument '%s'" % name})
    return cases


def all_cases():
    written = yaml.safe_load(CASES_FILE.read_text()) or {}
    params = []
    for role in ROLES:
        if not (COLLECTION_DIR / "roles" / role / "meta" / "argument_specs.yml").is_file():
            continue
        for number, case in enumerate(generated_cases(role) + written.get(role, []), start=1):
            params.append(pytest.param(role, case, id="%s-%d-%s" % (role, number, case["variable"])))
    return params


def run_role(role, variables, tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "roles": ["infra.comments." + role]}]))
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    env = dict(os.environ, ANSIBLE_CONFIG=os.environ.get("ANSIBLE_CONFIG", str(REPO_ROOT / "ansible.cfg")),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "--check", "-i", "localhost,", "-c", "local",
         "-e", "ansible_python_interpreter=" + sys.executable, "-e", "@" + str(extra), str(playbook)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail("ansible-playbook printed no JSON report (rc=%d):\n%s\n%s" % (result.returncode, result.stdout, result.stderr))
    return result.returncode, report


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_an_argument_spec_and_cases(role):
    assert (COLLECTION_DIR / "roles" / role / "meta" / "argument_specs.yml").is_file(), "%s has no meta/argument_specs.yml" % role
    assert [p for p in all_cases() if p.values[0] == role], "%s has no wrong-value case: add one to cases.yml" % role


@pytest.mark.parametrize("role, case", all_cases())
def test_wrong_value_fails_before_any_change(role, case, tmp_path):
    returncode, report = run_role(role, case["vars"], tmp_path)
    results = [(task["task"]["name"], result) for play in report["plays"] for task in play["tasks"]
               for result in task["hosts"].values()]
    assert returncode != 0, "the role accepted %s" % case["vars"]
    ran_past_validation = [name for name, result in results if result.get("action") not in VALIDATION_ACTIONS]
    assert not ran_past_validation, "tasks ran after validation should have stopped the role: %s" % ran_past_validation
    assert not any(result.get("changed") for _, result in results)
    failures = ["; ".join(result.get("argument_errors") or [str(result.get("msg"))]) for _, result in results if result.get("failed")]
    assert failures, "no task failed"
    message = failures[-1]
    assert case["variable"] in message and case["message"] in message, message
