# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTPS at the edge (issue 16), on the output rendered for each inventory and for the ACME and named variants.

The cert_manager role's issuers, the kong role's edge Certificate, its values and plugins, and the routes of the
app and of Grafana/Prometheus: every document is validated strictly (the cert-manager objects against
$SHARED/crds/cert-manager) and each promise is asserted against an independent expectation: the addresses and names
the certificate must hold, the issuer it must come from, the redirect of every route, HSTS only once trusted.
"""

import pytest
import yaml

import kube_schemas
import rendering

INVENTORIES = rendering.discover_inventories()
# Where clients reach Kong in each inventory (sample_hosts.yml): the certificate must hold exactly these.
# GCP: the load balancer's address, both the public one and the proxy's LoadBalancer IP.
ADDRESSES = {"vagrant": ["192.168.56.200"], "gcp": ["203.0.113.50"]}
NAME = "comments.example.org"
PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
ROUTE_FILES = [("comments_app", "ingress.yaml"), ("observability", "routes.yaml")]


def load(folder, role, name):
    return kube_schemas.load_documents((folder / role / name).read_text())


def one(documents, kind, name=None):
    found = [d for d in documents if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, "expected one %s %s, found %s" % (kind, name or "", [d["metadata"]["name"] for d in found])
    return found[0]


def gateway_values(folder):
    return yaml.safe_load((folder / "kong" / "ingress-values.yaml").read_text())["gateway"]


@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    """render(name, extra): the gcp inventory rendered with its sample host plus `extra` host variables."""
    cache = {}

    def render(name, extra):
        if name not in cache:
            hosts = rendering.sample_hosts("gcp")
            first = next(iter(hosts))
            hosts[first] = dict(hosts[first], **extra)
            work = tmp_path_factory.mktemp("edge-" + name)
            # Only the roles whose output is read here (the kong role's defaults read the cert_manager role's vars).
            result = rendering.render_inventory(
                "gcp", work / "work", work / "out", hosts=hosts, roles={"cert_manager", "kong", "observability"}
            )
            assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
            cache[name] = work / "out"
        return cache[name]

    return render


ACME_PRODUCTION = {
    "cert_manager_edge_dns_name": NAME,
    "cert_manager_acme_email": "ops@example.org",
    "cert_manager_acme_production": True,
}
ACME_STAGING = {"cert_manager_edge_dns_name": NAME, "cert_manager_acme_email": "ops@example.org"}
# The lab's CA with a name as well (ACME off explicitly: inventories/gcp turns it on whenever a name is given).
# Prometheus exposed too, for its route.
CA_WITH_NAME = {
    "cert_manager_edge_dns_name": NAME,
    "cert_manager_acme_enabled": False,
    "observability_prometheus_expose": True,
}
VARIANTS = {"acme-production": ACME_PRODUCTION, "acme-staging": ACME_STAGING, "ca-with-name": CA_WITH_NAME}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_renders_only_valid_objects(name, variant, crds, kubernetes_version, shared_dir):
    folder = variant(name, VARIANTS[name])
    problems = []
    for role, file in [("cert_manager", "issuers.yaml"), ("kong", "edge-tls.yaml"), ("kong", "cluster-plugins.yaml")]:
        problems += kube_schemas.validate_manifest_documents(load(folder, role, file), crds, kubernetes_version)
    values = (folder / "kong" / "ingress-values.yaml").read_text()
    problems += kube_schemas.validate_helm_values(
        values, kube_schemas.chart_values_file("ingress-values.yaml.j2", shared_dir / "charts")
    )
    assert problems == []


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_every_route_is_https_only_with_a_redirect(inventory, rendered):
    ingresses = [
        d for role, file in ROUTE_FILES for d in load(rendered(inventory), role, file) if d["kind"] == "Ingress"
    ]
    assert {d["metadata"]["name"] for d in ingresses} >= {"comments-api", "grafana"}
    for ingress in ingresses:
        annotations = ingress["metadata"].get("annotations") or {}
        assert annotations.get("konghq.com/protocols") == "https", ingress["metadata"]["name"]
        # 308 keeps the method and body: a POST sent over plain HTTP is replayed as a POST over HTTPS.
        assert annotations.get("konghq.com/https-redirect-status-code") == "308", ingress["metadata"]["name"]
        # The edge certificate is Kong's (namespace kong); a route's own tls section would name a Secret it lacks.
        assert "tls" not in ingress["spec"], ingress["metadata"]["name"]


def test_prometheus_route_is_https_only_when_exposed(variant):
    folder = variant("ca-with-name", CA_WITH_NAME)
    prometheus = one(load(folder, "observability", "routes.yaml"), "Ingress", "prometheus")
    assert prometheus["metadata"]["annotations"]["konghq.com/protocols"] == "https"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_platform_ca_is_a_chain_from_a_self_signed_root(inventory, rendered):
    documents = load(rendered(inventory), "cert_manager", "issuers.yaml")
    selfsigned = one(documents, "ClusterIssuer", "infra-comments-selfsigned")
    assert selfsigned["spec"] == {"selfSigned": {}}
    root = one(documents, "Certificate", "infra-comments-root-ca")
    assert root["spec"]["isCA"] is True
    assert root["metadata"]["namespace"] == "cert-manager"  # where a ClusterIssuer reads its Secret
    assert root["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": "infra-comments-selfsigned",
    }
    ca = one(documents, "ClusterIssuer", "infra-comments-ca")
    assert ca["spec"] == {"ca": {"secretName": root["spec"]["secretName"]}}
    # No ACME issuer unless asked: the committed inventories give no DNS name.
    assert [d for d in documents if "acme" in d["spec"]] == []


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_edge_certificate_holds_the_addresses_clients_use_and_kong_serves_it_by_default(inventory, rendered):
    folder = rendered(inventory)
    documents = load(folder, "kong", "edge-tls.yaml")
    certificate = one(documents, "Certificate", "kong-edge")
    spec = certificate["spec"]
    assert certificate["metadata"]["namespace"] == "kong"
    assert spec["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "infra-comments-ca"}
    assert spec["ipAddresses"] == ADDRESSES[inventory]
    assert "dnsNames" not in spec and [d for d in documents if d["kind"] == "Ingress"] == []
    assert "server auth" in spec["usages"]
    gateway = gateway_values(folder)
    assert gateway["secretVolumes"] == [spec["secretName"]]
    assert gateway["env"] == {
        "ssl_cert": "/etc/secrets/%s/tls.crt" % spec["secretName"],
        "ssl_cert_key": "/etc/secrets/%s/tls.key" % spec["secretName"],
    }
    assert gateway["proxy"]["tls"] == {"enabled": True, "servicePort": 443}
    assert gateway["proxy"]["http"] == {"enabled": True, "servicePort": 80}
    # Not trusted by browsers: no HSTS.
    assert "global-hsts" not in {d["metadata"]["name"] for d in load(folder, "kong", "cluster-plugins.yaml")}


def test_a_named_lab_certificate_holds_the_name_too_and_hands_it_to_the_controller(variant):
    folder = variant("ca-with-name", CA_WITH_NAME)
    documents = load(folder, "kong", "edge-tls.yaml")
    spec = one(documents, "Certificate", "kong-edge")["spec"]
    assert spec["dnsNames"] == [NAME] and spec["ipAddresses"] == ADDRESSES["gcp"]
    assert spec["issuerRef"]["name"] == "infra-comments-ca"
    ingress = one(documents, "Ingress", "kong-edge-tls")
    assert ingress["spec"]["tls"] == [{"hosts": [NAME], "secretName": spec["secretName"]}]
    # A host and no paths: no route of its own, only the certificate for SNI.
    assert ingress["spec"]["rules"] == [{"host": NAME}]
    assert gateway_values(folder)["secretVolumes"] == [spec["secretName"]]


@pytest.mark.parametrize(
    "name, server, issuer",
    [("acme-production", PRODUCTION, "letsencrypt-production"), ("acme-staging", STAGING, "letsencrypt-staging")],
)
def test_acme_issues_for_the_name_through_kong(name, server, issuer, variant):
    folder = variant(name, VARIANTS[name])
    acme = one(load(folder, "cert_manager", "issuers.yaml"), "ClusterIssuer", issuer)["spec"]["acme"]
    assert acme["server"] == server
    assert acme["email"] == "ops@example.org"
    assert acme["solvers"] == [{"http01": {"ingress": {"ingressClassName": "kong"}}}]
    documents = load(folder, "kong", "edge-tls.yaml")
    spec = one(documents, "Certificate", "kong-edge")["spec"]
    assert spec["issuerRef"]["name"] == issuer
    # Let's Encrypt certifies names, never addresses, and sets the lifetime itself.
    assert spec["dnsNames"] == [NAME] and "ipAddresses" not in spec and "duration" not in spec
    assert one(documents, "Ingress", "kong-edge-tls")["spec"]["tls"][0]["hosts"] == [NAME]
    # The Secret exists only once Kong answered the challenge: the gateways must not wait for it to start.
    gateway = gateway_values(folder)
    assert "secretVolumes" not in gateway and "ssl_cert" not in (gateway.get("env") or {})


def test_hsts_only_with_a_trusted_certificate(variant):
    production = load(variant("acme-production", ACME_PRODUCTION), "kong", "cluster-plugins.yaml")
    hsts = one(production, "KongClusterPlugin", "global-hsts")
    assert hsts["plugin"] == "response-transformer"
    assert hsts["config"]["add"]["headers"] == ["Strict-Transport-Security:max-age=31536000"]
    assert hsts["metadata"]["labels"] == {"global": "true"}
    staging = load(variant("acme-staging", ACME_STAGING), "kong", "cluster-plugins.yaml")
    assert "global-hsts" not in {d["metadata"]["name"] for d in staging}
