"""The inventory Terraform outputs (make gcp-up writes it to inventories/gcp/hosts.yml) is a valid Ansible
inventory that follows the repository's conventions: group microk8s, first host creates the cluster, node_ip
and ansible_host per host, the SSH user and key for the group.

The template is rendered by Terraform's own templatefile (through `terraform console`, offline),
then read back by ansible-inventory from the venv.
"""

import base64
import json
import re
import shutil

import pytest

from conftest import (
    REPO_ROOT,
    TERRAFORM_DIR,
    ansible_inventory_list,
    ansible_value,
    blocks,
    load_hcl,
    plain,
    run_terraform,
)

TEMPLATE = TERRAFORM_DIR / "templates" / "hosts.yml.tftpl"


def render_result(terraform, folder, variables, template=TEMPLATE):
    """`terraform console` evaluating templatefile(template, variables); the process result."""
    (folder / "vars.json").write_text(json.dumps(variables))
    expression = f'base64encode(templatefile("{template}", jsondecode(file("vars.json"))))\n'
    return run_terraform(terraform, ["console"], cwd=folder, stdin=expression)


def render(terraform, folder, variables):
    result = render_result(terraform, folder, variables)
    assert result.returncode == 0 and "Error" not in result.stderr, result.stderr
    return base64.b64decode(result.stdout.strip().strip('"')).decode()


def nodes(count):
    return [
        {"name": f"comments-node-{i}", "external_ip": f"203.0.113.{10 + i}", "internal_ip": f"10.10.0.{i + 1}"}
        for i in range(1, count + 1)
    ]


LB_ADDRESS = "198.51.100.7"


def template_variables(count, **changes):
    """What inventory.tf passes the template, with test values."""
    return {
        "nodes": nodes(count),
        "ssh_user": "ubuntu",
        "ssh_private_key_file": "/home/me/.ssh/id_ed25519",
        "load_balancer_address": LB_ADDRESS,
        "backups_gcs_bucket": "my-project-123-comments-backups",
        "backups_retention_days": 30,
        **changes,
    }


def write_inventory(tmp_path, text):
    """The rendered file inside a copy of inventories/gcp, so its group_vars apply as they will for real."""
    inventory = tmp_path / "inventories" / "gcp"
    source = REPO_ROOT / "inventories" / "gcp"
    if source.is_dir():
        shutil.copytree(source, inventory, ignore=shutil.ignore_patterns("hosts.yml"))
    inventory.mkdir(parents=True, exist_ok=True)
    (inventory / "hosts.yml").write_text(text)
    return inventory


@pytest.mark.parametrize("count", [1, 3])
def test_rendered_inventory_is_what_ansible_expects(terraform, tmp_path, count):
    variables = template_variables(count)
    inventory = write_inventory(tmp_path, render(terraform, tmp_path, variables))
    listing = ansible_inventory_list(inventory)

    names = [node["name"] for node in variables["nodes"]]
    # Order matters: the first host of group microk8s creates the cluster.
    assert listing["microk8s"]["hosts"] == names
    for node in variables["nodes"]:
        hostvars = listing["_meta"]["hostvars"][node["name"]]
        assert hostvars["ansible_host"] == node["external_ip"]
        assert hostvars["node_ip"] == node["internal_ip"]
        assert hostvars["ansible_user"] == "ubuntu"
        assert hostvars["ansible_ssh_private_key_file"] == "/home/me/.ssh/id_ed25519"
        # The load balancer and the backups bucket, for every host (group all), with their types.
        assert hostvars["gcp_load_balancer_address"] == LB_ADDRESS
        assert hostvars["backups_gcs_bucket"] == "my-project-123-comments-backups"
        assert hostvars["backups_retention_days"] == 30


def test_metallb_pool_and_kong_address_are_the_load_balancer(terraform, tmp_path):
    """The passthrough load balancer delivers packets with its own address as destination: MetalLB must give Kong's
    proxy exactly that address, and clients (kong_public_address: verify.yml, the summary) use it too."""
    for name in ("metallb.yml", "kong.yml"):
        if not (REPO_ROOT / "inventories" / "gcp" / "group_vars" / "all" / name).exists():
            pytest.fail(f"inventories/gcp/group_vars/all/{name} is missing", pytrace=False)
    variables = template_variables(3)
    inventory = write_inventory(tmp_path, render(terraform, tmp_path, variables))
    for node in variables["nodes"]:
        assert ansible_value(inventory, node["name"], "metallb_address_pools") == [f"{LB_ADDRESS}/32"]
        assert ansible_value(inventory, node["name"], "kong_public_address") == LB_ADDRESS


def test_a_variable_the_template_needs_but_is_not_given_is_named(terraform, tmp_path):
    """The rendering path reports a template that no longer matches the variables inventory.tf passes, by name."""
    variables = template_variables(1)
    del variables["ssh_private_key_file"]
    result = render_result(terraform, tmp_path, variables)
    assert result.returncode != 0
    assert 'vars map does not contain key "ssh_private_key_file"' in plain(result.stderr), result.stderr


def test_a_template_syntax_error_is_reported_as_one(terraform, tmp_path):
    broken = tmp_path / "hosts.yml.tftpl"
    broken.write_text(TEMPLATE.read_text().replace("${node.name}:", "${node.name:", 1))
    result = render_result(terraform, tmp_path, template_variables(1), template=broken)
    assert result.returncode != 0
    assert 'Call to function "templatefile" failed' in plain(result.stderr), result.stderr
    assert str(broken) in plain(result.stderr), result.stderr


def test_inventory_tf_passes_every_variable_the_template_uses():
    template_names = set(re.findall(r"\$\{\s*(?:jsonencode\()?\s*([a-z_]+)", TEMPLATE.read_text()))
    template_names |= set(re.findall(r"%\{\s*for\s+\w+\s+in\s+([a-z_]+)", TEMPLATE.read_text()))
    loop_variables = set(re.findall(r"%\{\s*for\s+(\w+)\s+in", TEMPLATE.read_text()))
    expected = template_names - loop_variables
    tree = load_hcl(TERRAFORM_DIR / "inventory.tf")
    content = next(entry["ansible_inventory"] for entry in tree["locals"] if "ansible_inventory" in entry)
    assert "templates/hosts.yml.tftpl" in content
    passed = set(re.findall(r"[{,]\s*([a-z_]+)\s*=", content))
    assert expected <= passed, f"the template uses {sorted(expected - passed)} which inventory.tf does not pass"
    for attribute in ("name", "external_ip", "internal_ip"):
        assert f"{attribute} =" in content, f"inventory.tf does not give each node its {attribute}"


def test_the_module_outputs_the_inventory_and_writes_no_file(configuration):
    """make gcp-up writes the output where this repository keeps it; the module knows nothing of that layout."""
    outputs = {labels[0]: body for labels, body in blocks(configuration["outputs.tf"], "output")}
    assert outputs["ansible_inventory"]["value"] == "${local.ansible_inventory}"
    written = [labels for tree in configuration.values() for labels, _ in blocks(tree, "resource")]
    assert not [labels for labels in written if labels[0] == "local_file"], written
    required = configuration["versions.tf"]["terraform"][0]["required_providers"][0]
    assert {name for name in required if not name.startswith("__")} == {"google"}
