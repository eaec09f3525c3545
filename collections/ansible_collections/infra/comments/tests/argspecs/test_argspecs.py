# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
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
# Fact gathering only reads; everything else that may run before the failure is a check.
ALLOWED_ACTIONS = {
    "gather_facts",
    "ansible.builtin.gather_facts",
    "ansible.builtin.validate_argument_spec",
    "ansible.builtin.assert",
    "ansible.builtin.fail",
}

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
        # ansible-core words a value outside the choices differently from a value of the wrong type.
        message = "value of %s must be one of" % name if option.get("choices") else "argument '%s'" % name
        cases.append({"variable": name, "vars": {name: wrong}, "message": message})
    return cases


def all_cases():
    written = yaml.safe_load(CASES_FILE.read_text()) or {}
    params = []
    for role in ROLES:
        if not (COLLECTION_DIR / "roles" / role / "meta" / "argument_specs.yml").is_file():
            continue
        for number, case in enumerate(generated_cases(role) + written.get(role, []), start=1):
            params.append(pytest.param(role, case, number, id="%s-%d-%s" % (role, number, case["variable"])))
    return params


def run_cases(role, cases, work):
    """Run the role once, with one inventory host per case (all localhost); return each host's task results.

    Inventory host variables rank above role defaults, like the inventory group_vars users set them in.
    """
    hosts = {
        "case-%d" % number: dict(case["vars"], ansible_connection="local", ansible_python_interpreter=sys.executable)
        for number, case in enumerate(cases, start=1)
    }
    (work / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    # Facts as a real play has them: role defaults may be built from them (the node's address, the login user).
    play = {
        "hosts": "all",
        "gather_facts": True,
        "gather_subset": ["min", "network"],
        "roles": ["infra.comments." + role],
    }
    (work / "play.yml").write_text(yaml.safe_dump([play]))
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.environ.get("ANSIBLE_CONFIG", str(REPO_ROOT / "ansible.cfg")),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "--check",
            "--forks",
            "4",
            "-i",
            str(work / "hosts.yml"),
            str(work / "play.yml"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            "ansible-playbook printed no JSON report (rc=%d):\n%s\n%s"
            % (result.returncode, result.stdout, result.stderr)
        )
    per_host = {name: [] for name in hosts}
    for play_report in report["plays"]:
        for task in play_report["tasks"]:
            for name, host_result in task["hosts"].items():
                per_host[name].append(dict(host_result, task_name=task["task"]["name"]))
    return per_host


@pytest.fixture(scope="session")
def role_results(tmp_path_factory):
    """(role, case number) -> that case's task results in order, from one ansible-playbook run per role."""
    cache = {}

    def results(role, number):
        if role not in cache:
            cases = [param.values[1] for param in all_cases() if param.values[0] == role]
            cache[role] = run_cases(role, cases, tmp_path_factory.mktemp("argspec-" + role))
        return cache[role]["case-%d" % number]

    return results


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_an_argument_spec_and_cases(role):
    assert (COLLECTION_DIR / "roles" / role / "meta" / "argument_specs.yml").is_file(), (
        "%s has no meta/argument_specs.yml" % role
    )
    assert [p for p in all_cases() if p.values[0] == role], "%s has no wrong-value case: add one to cases.yml" % role


@pytest.mark.parametrize("role, case, number", all_cases())
def test_wrong_value_fails_before_any_change(role, case, number, role_results):
    results = role_results(role, number)
    assert any(result.get("failed") for result in results), "the role accepted %s" % case["vars"]
    ran_past_validation = [result["task_name"] for result in results if result.get("action") not in ALLOWED_ACTIONS]
    assert not ran_past_validation, "tasks ran after validation should have stopped the role: %s" % ran_past_validation
    assert not any(result.get("changed") for result in results)
    failures = [
        "; ".join(result.get("argument_errors") or [str(result.get("msg"))])
        for result in results
        if result.get("failed")
    ]
    message = failures[-1]
    assert case["variable"] in message and case["message"] in message, message
