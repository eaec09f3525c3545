# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status parser reads every recorded ``microk8s status --format yaml`` output as YAML would."""

import os

import pytest
import yaml
from ansible_collections.infra.comments.plugins.module_utils.microk8s_status import (
    StatusParseError,
    find_addon,
    parse_status,
    qualified_name,
    split_addon_name,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "modules", "fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


RUNNING_FIXTURES = [
    "status_fresh_1.32.txt",
    "status_configured_1.32.txt",
    "status_ha_three_nodes.txt",
    "status_custom_repo_clash.txt",
    "status_1.21_no_repository.txt",
]


@pytest.mark.parametrize("name", RUNNING_FIXTURES)
def test_parser_agrees_with_a_yaml_parser(name):
    """Where the output happens to be valid YAML, the line parser must read exactly what PyYAML reads."""
    text = fixture(name)
    expected = yaml.safe_load(text)
    status = parse_status(text)
    assert status["running"] is expected["microk8s"]["running"] is True
    assert [(a["name"], a["status"]) for a in status["addons"]] == [
        (a["name"], a["status"]) for a in expected["addons"]
    ]
    assert [a["repository"] for a in status["addons"]] == [a.get("repository") for a in expected["addons"]]
    assert [a["description"] for a in status["addons"]] == [a["description"] for a in expected["addons"]]
    assert status["ha_enabled"] is bool(expected["high-availability"]["enabled"])
    assert status["ha_nodes"] == expected["high-availability"].get("nodes", [])


def test_fresh_node_has_the_default_addons_enabled():
    status = parse_status(fixture("status_fresh_1.32.txt"))
    enabled = sorted(a["name"] for a in status["addons"] if a["status"] == "enabled")
    assert enabled == ["dns", "ha-cluster", "helm", "helm3"]
    assert len(status["addons"]) == 24
    assert status["ha_nodes"] == [{"address": "10.0.2.15:19001", "role": "voter"}]


def test_three_voters_are_read():
    status = parse_status(fixture("status_ha_three_nodes.txt"))
    assert [n["role"] for n in status["ha_nodes"]] == ["voter"] * 3
    assert status["ha_formed"] is True
    assert find_addon(status["addons"], "community/argocd")["status"] == "enabled"


def test_dqlite_on_one_node_is_enabled_but_not_highly_available():
    """`high-availability: enabled: True` on a single node: dqlite runs, but HA needs three voters."""
    status = parse_status(fixture("status_fresh_1.32.txt"))
    assert status["ha_enabled"] is True
    assert status["ha_formed"] is False


@pytest.mark.parametrize(
    ("roles", "formed"),
    [(["voter", "voter", "spare"], False), (["voter", "voter", "standby", "standby"], False), (["voter"] * 3, True)],
)
def test_ha_is_formed_from_three_voters_only(roles, formed):
    nodes = "".join("    - address: 10.0.0.%d:19001\n      role: %s\n" % (i, role) for i, role in enumerate(roles))
    text = "microk8s:\n  running: True\nhigh-availability:\n  enabled: True\n  nodes:\n" + nodes + "addons:\n"
    status = parse_status(text)
    assert [node["role"] for node in status["ha_nodes"]] == roles
    assert status["ha_formed"] is formed


def test_ha_is_not_formed_when_dqlite_is_off():
    text = "microk8s:\n  running: True\nhigh-availability:\n  enabled: False\naddons:\n"
    status = parse_status(text)
    assert (status["ha_enabled"], status["ha_nodes"], status["ha_formed"]) == (False, [], False)


@pytest.mark.parametrize(
    ("addon", "expected"),
    [({"name": "dns", "repository": "core"}, "core/dns"), ({"name": "helm3", "repository": None}, "helm3")],
)
def test_qualified_name(addon, expected):
    assert qualified_name(addon) == expected


def test_empty_version_is_none():
    status = parse_status(fixture("status_fresh_1.32.txt"))
    assert find_addon(status["addons"], "rbac")["version"] is None


def test_not_running_node_has_a_message_and_no_addons():
    status = parse_status(fixture("status_not_running.txt"))
    assert status["running"] is False
    assert status["addons"] == []
    assert "not running" in status["message"]


def test_description_that_is_not_valid_yaml_is_kept_whole():
    text = fixture("status_fresh_1.32.txt").replace(
        "description: CoreDNS", "description: CoreDNS: cluster DNS # kube-dns compatible"
    )
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(text)
    assert (
        find_addon(parse_status(text)["addons"], "dns")["description"] == "CoreDNS: cluster DNS # kube-dns compatible"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "microk8s is not running, try microk8s start\n",
        "Insufficient permissions to access MicroK8s.\n",
        "microk8s:\n  foo: bar\n",
    ],
)
def test_other_output_is_rejected(text):
    with pytest.raises(StatusParseError):
        parse_status(text)


def test_addon_without_status_is_rejected():
    with pytest.raises(StatusParseError, match="lacks a name or an enabled/disabled status"):
        parse_status("microk8s:\n  running: True\naddons:\n  - name: dns\n    status: unknown\n")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("dns", (None, "dns")),
        ("core/dns", ("core", "dns")),
        ("community/argocd", ("community", "argocd")),
    ],
)
def test_split_addon_name(name, expected):
    assert split_addon_name(name) == expected


@pytest.mark.parametrize("name", ["/dns", "core/", "a/b/c"])
def test_split_addon_name_rejects_malformed_names(name):
    with pytest.raises(ValueError, match="REPOSITORY/NAME"):
        split_addon_name(name)


def test_find_addon_by_bare_and_prefixed_name():
    addons = parse_status(fixture("status_configured_1.32.txt"))["addons"]
    assert find_addon(addons, "metrics-server")["status"] == "enabled"
    assert find_addon(addons, "core/metrics-server")["repository"] == "core"


def test_find_addon_in_old_output_without_repository():
    addons = parse_status(fixture("status_1.21_no_repository.txt"))["addons"]
    assert find_addon(addons, "helm3")["status"] == "disabled"
    with pytest.raises(LookupError, match="not available"):
        find_addon(addons, "core/helm3")


def test_find_addon_refuses_to_guess_between_repositories():
    addons = parse_status(fixture("status_custom_repo_clash.txt"))["addons"]
    with pytest.raises(LookupError, match=r"several repositories \(core, myrepo\)"):
        find_addon(addons, "dns")
    assert find_addon(addons, "myrepo/dns")["description"] == "CoreDNS built in-house"


def test_find_addon_lists_what_is_available():
    addons = parse_status(fixture("status_fresh_1.32.txt"))["addons"]
    with pytest.raises(LookupError, match=r"'core/nope' is not available.*core/dns"):
        find_addon(addons, "core/nope")
