# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every template a role applies, rendered with each inventory's variables, is valid for the pinned Kubernetes."""

import pytest
import yaml

import kube_schemas
import rendering
import testdata

TEMPLATES = rendering.discover_templates()
INVENTORIES = rendering.discover_inventories()


def test_discovery_finds_every_role_template_and_inventory():
    # Guards the parametrisation below: an empty glob would otherwise pass by running nothing.
    assert ("metallb", "address-pools.yaml.j2") in TEMPLATES
    assert {"vagrant", "gcp"} <= set(INVENTORIES)


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_every_inventory_has_sample_hosts(inventory):
    hosts = rendering.sample_hosts(inventory)
    assert hosts, "sample_hosts.yml lists no host for %s" % inventory
    assert all("node_ip" in variables for variables in hosts.values())


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("role, template", TEMPLATES, ids=["/".join(t) for t in TEMPLATES])
def test_rendered_template_is_valid(inventory, role, template, rendered, crds, kubernetes_version, shared_dir):
    output = rendered(inventory) / role / template[: -len(".j2")]
    assert output.is_file(), "%s/%s was not rendered for %s" % (role, template, inventory)
    text = output.read_text()
    name = output.name + ".j2"
    if kube_schemas.HELM_VALUES_TEMPLATE.match(name):
        upstream = kube_schemas.chart_values_file(name, shared_dir / "charts")
        problems = kube_schemas.validate_helm_values(text, upstream)
    else:
        documents = kube_schemas.load_documents(text)
        problems = kube_schemas.validate_manifest_documents(documents, crds, kubernetes_version)
    assert problems == [], "%s/%s rendered for %s:\n  %s\n---\n%s" % (
        role,
        template,
        inventory,
        "\n  ".join(problems),
        text,
    )


def test_metallb_pools_follow_each_inventory(rendered):
    """The pools the check validated are the ones the README promises for each environment."""
    pools = {}
    for inventory in ("vagrant", "gcp"):
        documents = kube_schemas.load_documents((rendered(inventory) / "metallb" / "address-pools.yaml").read_text())
        pools[inventory] = [d["spec"]["addresses"] for d in documents if d["kind"] == "IPAddressPool"]
    assert pools["vagrant"] == [["192.168.56.200-192.168.56.220"]]
    # GCP: the load balancer's address Terraform writes into the inventory (sample_hosts.yml), not a node's.
    assert pools["gcp"] == [["203.0.113.50/32"]]


def test_metallb_chart_version_is_the_version_of_the_crds_used_for_validation():
    """The pools are validated against crds/metallb; that is only proof if the role installs that version."""
    defaults = yaml.safe_load((rendering.ROLES_DIR / "metallb" / "defaults" / "main.yml").read_text())
    # requirements/test-data.yml lists each CRD with its upstream URL at its tag (.../metallb/metallb/v0.14.9/...).
    tags = {
        item["url"].split("/metallb/metallb/")[1].split("/")[0]
        for item in testdata.load()["files"]
        if item["path"].startswith("crds/metallb/")
    }
    assert len(tags) == 1, "requirements/test-data.yml has crds/metallb from %s, not one tag" % sorted(tags)
    crd_version = tags.pop()
    assert "v" + defaults["metallb_chart_version"] == crd_version, (
        "metallb_chart_version %s but the test data's crds/metallb are %s: bump them together"
        % (defaults["metallb_chart_version"], crd_version)
    )
