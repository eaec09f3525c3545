# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What follows the node count when nodes are added (LAB_NODES=3 over a one-node lab, then site.yml again).

Rendered by Ansible with the roles' own defaults for one node, then for three: Kong's gateway replicas (one per
node, at least two) and the PostgreSQL instances (one per node, at most three) grow, and the gateway's
PodDisruptionBudget stays. charts.node_count_setting, which test_charts.py checks the kong chart against, must agree
with what Ansible renders.
"""

import pytest
import yaml
from test_comments_app import one

import charts


def three_nodes(tmp_path_factory):
    work = tmp_path_factory.mktemp("nodes-3")
    hosts = {"node%d" % n: {"node_ip": "192.168.56.%d" % (10 + n)} for n in range(1, 4)}
    result = charts.rendering.render_inventory("vagrant", work / "work", work / "out", hosts=hosts)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return work / "out"


def test_gateways_and_database_instances_follow_the_node_count(tmp_path_factory, rendered):
    # inventories/gcp's sample is one node; the other render is the same lab with three.
    for out, gateways, instances in [(rendered("gcp"), 2, 1), (three_nodes(tmp_path_factory), 3, 3)]:
        values = yaml.safe_load((out / "kong" / "ingress-values.yaml").read_text())
        assert values["gateway"]["replicaCount"] == gateways
        assert values["gateway"]["podDisruptionBudget"]["enabled"] is True
        database = [d for d in yaml.safe_load_all((out / "comments_app" / "database.yaml").read_text()) if d]
        assert one(database, "Cluster", "comments-db")["spec"]["instances"] == instances


@pytest.mark.parametrize("inventory", ["vagrant", "gcp"])
def test_the_chart_check_expects_what_ansible_renders(rendered, inventory):
    values = yaml.safe_load((rendered(inventory) / "kong" / "ingress-values.yaml").read_text())
    assert values["gateway"]["replicaCount"] == charts.node_count_setting("kong", "kong_gateway_replicas", inventory)
