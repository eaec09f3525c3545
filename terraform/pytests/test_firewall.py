"""Firewall rules: SSH (22) and the Kubernetes API (16443) only from admin_cidrs, never the world;
80/443 open to everyone; everything open between the nodes and nothing else."""

import re

import pytest

from conftest import TERRAFORM_DIR, load_configuration, resources, unquote

ADMIN_PORTS = (22, 16443)
WORLD = {"0.0.0.0/0", "::/0"}


def as_list(value):
    if value is None:
        return []
    return [unquote(item) for item in value] if isinstance(value, list) else [unquote(value)]


def opens_tcp_port(rule, port):
    for allow in rule.get("allow", []):
        protocol = unquote(allow.get("protocol", "")).lower()
        if protocol not in {"tcp", "all", "6"}:
            continue
        ports = as_list(allow.get("ports"))
        if not ports:
            return True  # no ports means every port of the protocol
        for entry in ports:
            low, _, high = str(entry).partition("-")
            if int(low) <= port <= int(high or low):
                return True
    return False


def sources(rule):
    """Where a rule lets traffic in from. GCP applies 0.0.0.0/0 when neither ranges nor tags are given."""
    ranges = as_list(rule.get("source_ranges"))
    if not ranges and not rule.get("source_tags"):
        return ["0.0.0.0/0"]
    return ranges


def admin_port_violations(configuration):
    """Rules that open 22 or 16443 to anything but var.admin_cidrs; an empty list means the rules are safe."""
    problems = []
    for name, rule in resources(configuration, "google_compute_firewall"):
        if unquote(rule.get("direction", "INGRESS")) != "INGRESS":
            continue
        for port in ADMIN_PORTS:
            if not opens_tcp_port(rule, port):
                continue
            for source in sources(rule):
                if source in WORLD or re.search(r"0\.0\.0\.0/0|::/0", source):
                    problems.append(f"{name}: port {port} open to {source}")
                elif source != "${var.admin_cidrs}" and not rule.get("source_tags"):
                    problems.append(f"{name}: port {port} open to {source} instead of var.admin_cidrs")
    return problems


def test_ssh_and_kubernetes_api_only_from_admin_cidrs(configuration):
    assert admin_port_violations(configuration) == []
    admin_rules = [
        name
        for name, rule in resources(configuration, "google_compute_firewall")
        if opens_tcp_port(rule, 22) and not rule.get("source_tags")
    ]
    assert admin_rules, "no firewall rule lets the admins in on port 22"


def test_web_ports_are_open_to_everyone(configuration):
    for port in (80, 443):
        assert any(
            opens_tcp_port(rule, port) and "0.0.0.0/0" in sources(rule)
            for _, rule in resources(configuration, "google_compute_firewall")
        ), f"no rule opens {port} to the internet"


def test_nodes_reach_each_other_on_everything(configuration):
    internal = [
        rule
        for _, rule in resources(configuration, "google_compute_firewall")
        if any(unquote(allow.get("protocol")) == "all" for allow in rule.get("allow", []))
    ]
    assert len(internal) == 1, "expected one rule allowing all protocols (between the nodes)"
    rule = internal[0]
    assert rule.get("source_tags") and rule.get("source_tags") == rule.get("target_tags"), (
        "the all-protocols rule must be limited to the nodes' tag"
    )
    assert not rule.get("source_ranges"), "the all-protocols rule must not take source ranges"


@pytest.mark.parametrize(
    ("original", "replacement", "expected"),
    [
        (
            "source_ranges = var.admin_cidrs",
            'source_ranges = ["0.0.0.0/0"]',
            ["admin: port 22 open to 0.0.0.0/0", "admin: port 16443 open to 0.0.0.0/0"],
        ),
        (
            "source_ranges = var.admin_cidrs",
            'source_ranges = ["10.0.0.0/8", "::/0"]',
            [
                "admin: port 22 open to 10.0.0.0/8 instead of var.admin_cidrs",
                "admin: port 22 open to ::/0",
                "admin: port 16443 open to 10.0.0.0/8 instead of var.admin_cidrs",
                "admin: port 16443 open to ::/0",
            ],
        ),
        (
            'ports    = ["80", "443"]',
            'ports    = ["1-65535"]',
            ["web: port 22 open to 0.0.0.0/0", "web: port 16443 open to 0.0.0.0/0"],
        ),
        # Without source tags (and no ranges) GCP admits the whole internet to the all-protocols rule.
        (
            "source_tags = [local.node_tag]\n",
            "",
            ["internal: port 22 open to 0.0.0.0/0", "internal: port 16443 open to 0.0.0.0/0"],
        ),
    ],
)
def test_the_check_catches_a_rule_opening_admin_ports_to_the_world(tmp_path, original, replacement, expected):
    firewall = (TERRAFORM_DIR / "firewall.tf").read_text()
    assert original in firewall, f"the negative test expects {original!r} in firewall.tf"
    (tmp_path / "firewall.tf").write_text(firewall.replace(original, replacement, 1))
    # Exactly the rule that was changed, for both admin ports: not merely "some problem somewhere".
    assert admin_port_violations(load_configuration(tmp_path)) == expected
