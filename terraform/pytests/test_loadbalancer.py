"""The external passthrough Network Load Balancer in front of the nodes (loadbalancer.tf): 80 and 443 on one static
address to every node, health-checked on the Kong proxy Service's healthCheckNodePort, which Terraform and the kong
role pin to the same port; the inventory and the outputs carry its address."""

import pytest
import yaml

from conftest import REPO_ROOT, TERRAFORM_DIR, blocks, edited_configuration, resources, unquote

KONG_ROLE = REPO_ROOT / "collections" / "ansible_collections" / "infra" / "comments" / "roles" / "kong"


def one(configuration, resource_type):
    found = list(resources(configuration, resource_type))
    assert len(found) == 1, f"expected one {resource_type}, found {[name for name, _ in found]}"
    return found[0]


def variable_default(configuration, name):
    variables = {labels[0]: body for labels, body in blocks(configuration["variables.tf"], "variable")}
    return variables[name]["default"]


def load_balancer_problems(configuration):
    """What keeps the load balancer from being a passthrough NLB for 80/443 over every node, checked by the pinned
    port; an empty list means none."""
    problems = []
    rule_name, rule = one(configuration, "google_compute_forwarding_rule")
    backend_name, backend = one(configuration, "google_compute_region_backend_service")
    check_name, check = one(configuration, "google_compute_region_health_check")
    group_name, group = one(configuration, "google_compute_instance_group")

    expected_rule = {
        "load_balancing_scheme": "EXTERNAL",
        "ip_protocol": "TCP",
        "ports": ["80", "443"],
        "ip_address": "${google_compute_address.lb.address}",
        "backend_service": f"${{google_compute_region_backend_service.{backend_name}.id}}",
    }
    for key, value in expected_rule.items():
        actual = [unquote(v) for v in rule.get(key)] if isinstance(rule.get(key), list) else unquote(rule.get(key))
        if actual != value:
            problems.append(f"forwarding rule {rule_name}: {key} is {actual!r}, expected {value!r}")

    if (unquote(backend.get("load_balancing_scheme")), unquote(backend.get("protocol"))) != ("EXTERNAL", "TCP"):
        problems.append(f"backend service {backend_name} is not an EXTERNAL TCP (passthrough) backend service")
    if backend.get("health_checks") != [f"${{google_compute_region_health_check.{check_name}.id}}"]:
        problems.append(f"backend service {backend_name} does not use health check {check_name}")
    groups = [unquote(item.get("group")) for item in backend.get("backend", [])]
    if groups != [f"${{google_compute_instance_group.{group_name}.self_link}}"]:
        problems.append(f"backend service {backend_name} has backends {groups}, not instance group {group_name}")

    if unquote(group.get("instances")) != "${google_compute_instance.node[*].self_link}":
        problems.append(f"instance group {group_name} does not hold every node: {group.get('instances')}")

    http = check.get("http_health_check", [{}])[0]
    if unquote(http.get("port")) != "${var.kong_proxy_health_check_node_port}":
        problems.append(f"health check {check_name} probes port {http.get('port')}, not the pinned healthCheckNodePort")
    if unquote(http.get("request_path")) != "/healthz":
        problems.append(f"health check {check_name} requests {http.get('request_path')}, not /healthz")
    return problems


def test_the_load_balancer_is_a_passthrough_nlb_over_every_node(configuration):
    assert load_balancer_problems(configuration) == []


@pytest.mark.parametrize(
    ("original", "replacement", "expected"),
    [
        (
            'ports                 = ["80", "443"]',
            'ports                 = ["80"]',
            "forwarding rule kong: ports is ['80'], expected ['80', '443']",
        ),
        (
            "port         = var.kong_proxy_health_check_node_port",
            "port         = 10256",
            "health check kong probes port 10256, not the pinned healthCheckNodePort",
        ),
        (
            "instances   = google_compute_instance.node[*].self_link",
            "instances   = [google_compute_instance.node[0].self_link]",
            "instance group nodes does not hold every node: ['${google_compute_instance.node[0].self_link}']",
        ),
    ],
)
def test_the_check_catches_a_broken_load_balancer(tmp_path, original, replacement, expected):
    configuration = edited_configuration(tmp_path, "loadbalancer.tf", original, replacement, also="*")
    assert load_balancer_problems(configuration) == [expected]


def test_the_instance_group_is_in_the_nodes_zone(configuration):
    """An unmanaged instance group is zonal: every node must be in its zone for node_count = 3 to join it."""
    _, group = one(configuration, "google_compute_instance_group")
    _, node = one(configuration, "google_compute_instance")
    assert unquote(group["zone"]) == unquote(node["zone"]) == "${var.zone}"
    assert unquote(node["count"]) == "${var.node_count}"


def test_the_health_check_port_is_the_kong_role_s(configuration):
    """Terraform's health check and the proxy Service's healthCheckNodePort must be the same port, by default."""
    terraform_port = variable_default(configuration, "kong_proxy_health_check_node_port")
    defaults = yaml.safe_load((KONG_ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((KONG_ROLE / "meta" / "argument_specs.yml").read_text())
    spec = specs["argument_specs"]["main"]["options"]["kong_proxy_health_check_node_port"]
    assert defaults["kong_proxy_health_check_node_port"] == terraform_port, (
        f"the kong role pins healthCheckNodePort {defaults['kong_proxy_health_check_node_port']} but Terraform's "
        f"health check probes {terraform_port}: change both defaults together"
    )
    assert spec["default"] == terraform_port and spec["type"] == "int"
    # The GCP inventory must not pin another port than the one Terraform probes.
    for path in sorted((REPO_ROOT / "inventories" / "gcp").rglob("*.yml")):
        values = yaml.safe_load(path.read_text()) or {}
        if isinstance(values, dict) and "kong_proxy_health_check_node_port" in values:
            assert values["kong_proxy_health_check_node_port"] == terraform_port, path


def test_outputs_and_inventory_carry_the_load_balancer_address(configuration):
    outputs = {labels[0]: body for labels, body in blocks(configuration["outputs.tf"], "output")}
    assert unquote(outputs["load_balancer_ip"]["value"]) == "${google_compute_address.lb.address}"
    assert "google_compute_address.lb.address" in unquote(outputs["service_url"]["value"])
    locals_ = next(entry for entry in configuration["inventory.tf"]["locals"] if "ansible_inventory" in entry)
    assert "load_balancer_address  = google_compute_address.lb.address" in (TERRAFORM_DIR / "inventory.tf").read_text()
    assert "templates/hosts.yml.tftpl" in locals_["ansible_inventory"]


def test_the_address_is_static_external_and_in_the_region(configuration):
    _, address = next((n, b) for n, b in resources(configuration, "google_compute_address") if n == "lb")
    assert unquote(address["address_type"]) == "EXTERNAL"
    assert unquote(address["region"]) == "${var.region}"
