# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The proxy Service's healthCheckNodePort, which GCP's load balancer health-checks (terraform/loadbalancer.tf).

The kong chart 3.2.0 (the ingress chart's `gateway`) has no value for it (its kong.service template writes no such
field), so the role installs the chart through a Helm post-renderer, roles/kong/files/proxy-health-check-port.py.
Here the real helm renders the real chart with the role's values per inventory through that same program, as
`helm install --post-renderer` does: every document is validated strictly, the proxy Service carries the role's
port, and nothing else differs from the plain render the other chart tests check.
"""

import copy
import sys
import tarfile

import pytest

import charts
import kube_schemas
import rendering

INVENTORIES = rendering.discover_inventories()
POST_RENDERER = rendering.ROLES_DIR / "kong" / "files" / "proxy-health-check-port.py"


def kong_use():
    found = [use for use in charts.rendered_chart_uses() if use.role == "kong"]
    assert len(found) == 1, found
    return found[0]


def render(rendered, shared_dir, kubernetes_version, inventory, post_renderer=None, env=None):
    use = kong_use()
    values = rendered(inventory) / use.role / use.template[: -len(".j2")]
    return charts.render_chart(
        charts.chart_dir(use, shared_dir / "charts", inventory),
        charts.setting("kong", "kong_release_name", inventory),
        charts.setting("kong", "kong_namespace", inventory),
        [values],
        kubernetes_version,
        post_renderer=post_renderer,
        extra_env=env,
    )


@pytest.fixture(scope="module")
def post_renderer(tmp_path_factory):
    """The program as the role installs it: the file with an interpreter line in front, executable; the interpreter
    is this one (it has PyYAML, as python3-yaml gives the node's python3)."""
    program = tmp_path_factory.mktemp("post-renderer") / "kong-proxy-health-check-port"
    program.write_text("#!%s\n%s\n" % (sys.executable, POST_RENDERER.read_text()))
    program.chmod(0o755)
    return program


def post_renderer_env(port, inventory):
    """What the role's task puts in the environment."""
    return {
        "KONG_PROXY_SERVICE": charts.setting("kong", "kong_proxy_service", inventory),
        "KONG_PROXY_HEALTH_CHECK_NODE_PORT": str(port),
    }


def comparable(documents):
    """The documents without what changes on every render (the webhook certificate the chart generates)."""
    result = []
    for document in copy.deepcopy(documents):
        if document.get("kind") == "Secret" and document.get("type") == "kubernetes.io/tls":
            document.pop("data", None)
        for webhook in document.get("webhooks", []) if "Webhook" in document.get("kind", "") else []:
            webhook.get("clientConfig", {}).pop("caBundle", None)
        if document.get("kind") == "Service":
            document.get("spec", {}).pop("healthCheckNodePort", None)
        result.append(document)
    return result


def test_the_chart_has_no_value_for_it(shared_dir):
    """Why a post-renderer: were the chart to offer the field, a value would be the simpler way."""
    folder = charts.chart_dir(kong_use(), shared_dir / "charts")
    packaged = list((folder / "charts").glob("kong-*.tgz"))
    assert packaged, folder
    with tarfile.open(packaged[0]) as archive:
        text = "".join(
            archive.extractfile(member).read().decode()
            for member in archive.getmembers()
            if member.isfile() and member.name.endswith((".yaml", ".tpl"))
        )
    assert "healthCheckNodePort" not in text


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_proxy_service_gets_the_role_s_port(
    inventory, rendered, shared_dir, crds, kubernetes_version, post_renderer
):
    port = int(charts.setting("kong", "kong_proxy_health_check_node_port", inventory))
    assert 30000 <= port <= 32767
    documents = render(
        rendered, shared_dir, kubernetes_version, inventory, post_renderer, post_renderer_env(port, inventory)
    )
    assert kube_schemas.validate_manifest_documents(documents, crds, kubernetes_version) == []
    services = charts.named(documents, "Service")
    proxy = services[charts.setting("kong", "kong_proxy_service", inventory)]
    assert proxy["spec"]["type"] == "LoadBalancer" and proxy["spec"]["externalTrafficPolicy"] == "Local"
    assert proxy["spec"]["healthCheckNodePort"] == port
    others = [name for name, body in services.items() if body is not proxy and "healthCheckNodePort" in body["spec"]]
    assert others == []
    # Everything else is exactly what the plain render gives, which test_charts.py checks.
    plain = render(rendered, shared_dir, kubernetes_version, inventory)
    assert comparable(documents) == comparable(plain)


def test_a_broken_post_renderer_fails_the_render(rendered, shared_dir, kubernetes_version, post_renderer):
    """Helm stops when the program fails (here: the port is not a node port), so no Service without it is applied."""
    inventory = INVENTORIES[0]
    with pytest.raises(RuntimeError, match="outside the node port range"):
        render(rendered, shared_dir, kubernetes_version, inventory, post_renderer, post_renderer_env(8080, inventory))
