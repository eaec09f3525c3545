# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""infra.comments.microk8s_addon against recorded ``microk8s status`` outputs.

microk8s cannot run here, so ``run_command`` replays recorded outputs; everything else (argument
parsing, binary lookup, JSON result, check mode) is the real AnsibleModule.
"""

import json
import os

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.infra.comments.plugins.modules import microk8s_addon

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
STATUS_TAIL = ["status", "--format", "yaml", "--wait-ready", "--timeout", "120"]


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


@pytest.fixture
def microk8s(tmp_path):
    """A real executable file standing in for /snap/bin/microk8s, so the binary lookup runs for real."""
    path = tmp_path / "microk8s"
    path.write_text("#!/bin/sh\nexit 99\n")
    path.chmod(0o755)
    return str(path)


class Replay:
    """Answers run_command with recorded outputs, in order, and checks each command line."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.calls = []

    def __call__(self, args):
        self.calls.append(list(args))
        assert self.steps, "unexpected command: %r" % (args,)
        expected, rc, out, err = self.steps.pop(0)
        assert list(args)[1:] == expected
        return rc, out, err


def run(monkeypatch, capsys, args, replay, check_mode=False):
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda module, args, **kwargs: replay(args))
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exit_info:
            microk8s_addon.main()
    result = json.loads(capsys.readouterr().out)
    result["exit_code"] = exit_info.value.code
    assert not replay.steps, "commands not run: %r" % (replay.steps,)
    return result


def test_already_enabled_addon_is_unchanged(monkeypatch, capsys, microk8s):
    replay = Replay((STATUS_TAIL, 0, fixture("status_fresh_1.32.txt"), ""))
    result = run(monkeypatch, capsys, {"name": "dns", "microk8s_cmd": microk8s}, replay)
    assert result["exit_code"] == 0
    assert result["changed"] is False
    assert result["cmd"] == []
    assert result["addon"]["status"] == "enabled"


def test_disabled_addon_is_enabled_and_verified(monkeypatch, capsys, microk8s):
    replay = Replay(
        (STATUS_TAIL, 0, fixture("status_fresh_1.32.txt"), ""),
        (
            ["enable", "core/metrics-server"],
            0,
            "Infer repository core for addon metrics-server\nEnabling Metrics-Server\nMetrics-Server is enabled\n",
            "",
        ),
        (STATUS_TAIL, 0, fixture("status_configured_1.32.txt"), ""),
    )
    result = run(monkeypatch, capsys, {"name": "metrics-server", "microk8s_cmd": microk8s}, replay)
    assert result["exit_code"] == 0
    assert result["changed"] is True
    assert result["cmd"] == [microk8s, "enable", "core/metrics-server"]
    assert result["addon"]["status"] == "enabled"
    assert "Metrics-Server is enabled" in result["stdout"]
    assert result["diff"] == {"before": {"status": "disabled"}, "after": {"status": "enabled"}}


def test_check_mode_reports_the_change_without_running_it(monkeypatch, capsys, microk8s):
    replay = Replay((STATUS_TAIL, 0, fixture("status_fresh_1.32.txt"), ""))
    result = run(monkeypatch, capsys, {"name": "hostpath-storage", "microk8s_cmd": microk8s}, replay, check_mode=True)
    assert result["changed"] is True
    assert result["cmd"] == [microk8s, "enable", "core/hostpath-storage"]
    assert len(replay.calls) == 1


def test_check_mode_on_an_enabled_addon_reports_no_change(monkeypatch, capsys, microk8s):
    replay = Replay((STATUS_TAIL, 0, fixture("status_configured_1.32.txt"), ""))
    result = run(
        monkeypatch, capsys, {"name": "core/hostpath-storage", "microk8s_cmd": microk8s}, replay, check_mode=True
    )
    assert result["changed"] is False
    assert result["cmd"] == []
    assert result["addon"]["status"] == "enabled"


def test_arguments_go_to_the_enable_command_as_separate_words(monkeypatch, capsys, microk8s):
    with_metallb = fixture("status_configured_1.32.txt").replace(
        "  - name: metallb\n    repository: core\n    description: Loadbalancer for your Kubernetes cluster\n"
        "    version: 0.13.10\n    status: disabled",
        "  - name: metallb\n    repository: core\n    description: Loadbalancer for your Kubernetes cluster\n"
        "    version: 0.13.10\n    status: enabled",
    )
    assert with_metallb != fixture("status_configured_1.32.txt")
    replay = Replay(
        (STATUS_TAIL, 0, fixture("status_configured_1.32.txt"), ""),
        (["enable", "core/metallb", "192.168.56.240-192.168.56.250"], 0, "MetalLB is enabled\n", ""),
        (STATUS_TAIL, 0, with_metallb, ""),
    )
    result = run(
        monkeypatch,
        capsys,
        {"name": "metallb", "args": ["192.168.56.240-192.168.56.250"], "microk8s_cmd": microk8s},
        replay,
    )
    assert result["changed"] is True
    # The bare name is qualified with its repository, and the range is one word of its own after it.
    assert result["cmd"] == [microk8s, "enable", "core/metallb", "192.168.56.240-192.168.56.250"]
    assert (result["addon"]["repository"], result["addon"]["name"], result["addon"]["status"]) == (
        "core",
        "metallb",
        "enabled",
    )
    assert result["diff"] == {"before": {"status": "disabled"}, "after": {"status": "enabled"}}


def test_enabled_addon_is_disabled_without_its_arguments(monkeypatch, capsys, microk8s):
    replay = Replay(
        (STATUS_TAIL, 0, fixture("status_ha_three_nodes.txt"), ""),
        (["disable", "community/argocd"], 0, "Disabling ArgoCD\n", ""),
        (
            STATUS_TAIL,
            0,
            fixture("status_ha_three_nodes.txt").replace(
                "name: argocd\n    repository: community\n    description: Argo CD is a declarative continuous "
                "deployment for Kubernetes.\n    version: 2.7.6\n    status: enabled",
                "name: argocd\n    repository: community\n    description: Argo CD is a declarative continuous "
                "deployment for Kubernetes.\n    version: 2.7.6\n    status: disabled",
            ),
            "",
        ),
    )
    result = run(
        monkeypatch,
        capsys,
        {"name": "community/argocd", "state": "disabled", "args": ["ignored"], "microk8s_cmd": microk8s},
        replay,
    )
    assert result["changed"] is True
    assert result["cmd"] == [microk8s, "disable", "community/argocd"]
    assert result["addon"]["status"] == "disabled"


def test_old_microk8s_without_repositories_uses_the_bare_name(monkeypatch, capsys, microk8s):
    replay = Replay(
        (STATUS_TAIL, 0, fixture("status_1.21_no_repository.txt"), ""),
        (["enable", "helm3"], 0, "Enabling Helm 3\n", ""),
        (
            STATUS_TAIL,
            0,
            fixture("status_1.21_no_repository.txt").replace(
                "version: 3.5.0\n    status: disabled", "version: 3.5.0\n    status: enabled"
            ),
            "",
        ),
    )
    result = run(monkeypatch, capsys, {"name": "helm3", "microk8s_cmd": microk8s}, replay)
    assert result["changed"] is True
    assert result["cmd"] == [microk8s, "enable", "helm3"]
    assert (result["addon"]["repository"], result["addon"]["status"]) == (None, "enabled")


def test_enable_that_does_not_take_effect_fails(monkeypatch, capsys, microk8s):
    replay = Replay(
        (STATUS_TAIL, 0, fixture("status_fresh_1.32.txt"), ""),
        (["enable", "core/metrics-server"], 0, "", ""),
        (STATUS_TAIL, 0, fixture("status_fresh_1.32.txt"), ""),
    )
    result = run(monkeypatch, capsys, {"name": "metrics-server", "microk8s_cmd": microk8s}, replay)
    assert result["exit_code"] == 1
    assert "still reports the addon disabled" in result["msg"]


def test_failing_enable_command_fails_with_its_output(monkeypatch, capsys, microk8s):
    replay = Replay(
        (STATUS_TAIL, 0, fixture("status_fresh_1.32.txt"), ""),
        (["enable", "core/metallb"], 1, "", "You should provide an address range\n"),
    )
    result = run(monkeypatch, capsys, {"name": "metallb", "microk8s_cmd": microk8s}, replay)
    assert result["failed"] is True
    assert 'enable core/metallb" failed (rc=1)' in result["msg"]
    assert result["stderr"] == "You should provide an address range\n"


def test_unknown_addon_fails_naming_it(monkeypatch, capsys, microk8s):
    replay = Replay((STATUS_TAIL, 0, fixture("status_fresh_1.32.txt"), ""))
    result = run(monkeypatch, capsys, {"name": "kong", "microk8s_cmd": microk8s}, replay)
    assert result["failed"] is True
    assert "addon 'kong' is not available" in result["msg"]


def test_ambiguous_addon_fails_asking_for_the_repository(monkeypatch, capsys, microk8s):
    replay = Replay((STATUS_TAIL, 0, fixture("status_custom_repo_clash.txt"), ""))
    result = run(monkeypatch, capsys, {"name": "dns", "microk8s_cmd": microk8s}, replay)
    assert "several repositories" in result["msg"]


@pytest.mark.parametrize(
    "rc, output, message",
    [
        (0, fixture("status_stopped.txt"), "microk8s said: microk8s is not running, try microk8s start"),
        (
            0,
            fixture("status_not_running.txt"),
            "microk8s is not running: microk8s is not running. Use microk8s inspect",
        ),
        (1, "Insufficient permissions to access MicroK8s.\n", "failed (rc=1); is microk8s installed and running"),
    ],
)
def test_microk8s_that_cannot_answer_fails_clearly(monkeypatch, capsys, microk8s, rc, output, message):
    replay = Replay((STATUS_TAIL, rc, output, ""))
    result = run(monkeypatch, capsys, {"name": "dns", "microk8s_cmd": microk8s}, replay)
    assert result["failed"] is True
    assert message in result["msg"]


def test_missing_microk8s_fails_before_running_anything(monkeypatch, capsys, tmp_path):
    replay = Replay()
    result = run(monkeypatch, capsys, {"name": "dns", "microk8s_cmd": str(tmp_path / "no-such-microk8s")}, replay)
    assert result["failed"] is True
    assert "was not found" in result["msg"] and "install the microk8s snap" in result["msg"]
    assert replay.calls == []


@pytest.mark.parametrize(
    "args, message",
    [
        ({"name": "dns", "state": "present"}, "value of state must be one of: enabled, disabled"),
        ({"state": "enabled"}, "missing required arguments: name"),
        ({"name": "dns", "timeout": 0}, "timeout must be a positive number"),
    ],
)
def test_wrong_arguments_fail_before_running_anything(monkeypatch, capsys, microk8s, args, message):
    replay = Replay()
    result = run(monkeypatch, capsys, dict(args, microk8s_cmd=microk8s), replay)
    assert message in result["msg"]
    assert replay.calls == []
