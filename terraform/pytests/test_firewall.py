"""Firewall rules: SSH (22) and the Kubernetes API (16443) only from admin_cidrs, never the world;
80/443 open to everyone, but only to the load balancer's address; the load balancer's health-check port
only from Google's probe ranges; everything open between the nodes and nothing else."""

import re

import pytest

from conftest import TERRAFORM_DIR, blocks, edited_configuration, load_configuration, load_hcl, resources, unquote

ADMIN_PORTS = (22, 16443)
WORLD = {"0.0.0.0/0", "::/0"}
# Google's documented probe ranges for external passthrough Network Load Balancers (backend-service and
# target-pool based). 130.211.0.0/22 probes only proxy and internal load balancers: not opened.
NLB_PROBE_RANGES = {"35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"}
VARIABLE_PORT = re.compile(r"^\$\{(?:tostring\()?var\.(\w+)\)?\}$")


def variable_defaults():
    tree = load_hcl(TERRAFORM_DIR / "variables.tf")
    return {labels[0]: body.get("default") for labels, body in blocks(tree, "variable")}


def port_bounds(entry):
    """(low, high) of a firewall port entry: "80", "1-65535", or a variable (its default; test_variables
    checks the validation that keeps kong_proxy_health_check_node_port in the node-port range)."""
    match = VARIABLE_PORT.match(str(entry))
    if match:
        value = variable_defaults()[match.group(1)]
        return int(value), int(value)
    low, _, high = str(entry).partition("-")
    return int(low), int(high or low)


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
            low, high = port_bounds(entry)
            if low <= port <= high:
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


def probe_ranges_local():
    return as_list(load_hcl(TERRAFORM_DIR / "loadbalancer.tf")["locals"][0]["nlb_health_check_ranges"])


def health_check_port_problems(configuration):
    """What is wrong with how the health-check port is opened; an empty list means: exactly one rule opens it, TCP,
    from exactly Google's probe ranges, to the nodes, and no rule opens it to anything else."""
    port = int(variable_defaults()["kong_proxy_health_check_node_port"])
    problems = []
    openers = {
        name: rule for name, rule in resources(configuration, "google_compute_firewall") if opens_tcp_port(rule, port)
    }
    probe_rules = {name: rule for name, rule in openers.items() if not rule.get("source_tags")}
    if len(probe_rules) != 1:
        problems.append(f"expected one rule opening {port} from source ranges, found {sorted(probe_rules)}")
    for name, rule in probe_rules.items():
        ranges = set(as_list(rule.get("source_ranges")))
        if ranges == {"${local.nlb_health_check_ranges}"}:
            ranges = set(probe_ranges_local())
        if ranges != NLB_PROBE_RANGES:
            problems.append(f"{name}: port {port} open to {sorted(ranges)}, not Google's probe ranges")
        if [unquote(tag) for tag in rule.get("target_tags", [])] != ["${local.node_tag}"]:
            problems.append(f"{name}: not limited to the nodes' tag")
        ports = [port_bounds(entry) for allow in rule["allow"] for entry in as_list(allow.get("ports"))]
        if ports != [(port, port)]:
            problems.append(f"{name}: opens {ports}, not only the health-check port {port}")
    return problems


def test_health_check_port_only_from_google_probe_ranges(configuration):
    assert health_check_port_problems(configuration) == []


@pytest.mark.parametrize(
    ("original", "replacement", "expected"),
    [
        (
            "source_ranges = local.nlb_health_check_ranges",
            'source_ranges = ["0.0.0.0/0"]',
            "health_check: port 30010 open to ['0.0.0.0/0'], not Google's probe ranges",
        ),
        (
            "ports    = [tostring(var.kong_proxy_health_check_node_port)]",
            'ports    = [tostring(var.kong_proxy_health_check_node_port), "10250"]',
            "health_check: opens [(30010, 30010), (10250, 10250)], not only the health-check port 30010",
        ),
    ],
)
def test_the_check_catches_a_health_check_rule_opened_too_wide(tmp_path, original, replacement, expected):
    configuration = edited_configuration(tmp_path, "firewall.tf", original, replacement)
    assert health_check_port_problems(configuration) == [expected]


def test_probe_ranges_in_loadbalancer_tf_are_google_s():
    ranges = probe_ranges_local()
    assert set(ranges) == NLB_PROBE_RANGES and len(ranges) == len(NLB_PROBE_RANGES)


def test_web_traffic_only_to_the_load_balancer_address(configuration):
    """The nodes' own external IPs serve no web traffic: 80/443 are open only with the LB's address as destination."""
    for port in (80, 443):
        rules = [rule for _, rule in resources(configuration, "google_compute_firewall") if opens_tcp_port(rule, port)]
        public = [rule for rule in rules if "0.0.0.0/0" in sources(rule)]
        assert public, f"no rule opens {port} to the internet"
        for rule in public:
            assert as_list(rule.get("destination_ranges")) == ["${google_compute_address.lb.address}/32"], rule
