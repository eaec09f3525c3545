# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every Helm chart a role installs, rendered by the real chart with exactly the values the role passes, per inventory.

The values are the role's `templates/<chart>-values.yaml.j2` as the `rendered` fixture renders it (with Ansible, the
role's own precedence), the chart is `$SHARED/charts/<chart>-<role>_chart_version/`, and the release name and
namespace are the role's. Every document must be valid for the pinned Kubernetes (custom resources against
$SHARED/crds, strictly), and each chart must give what its role relies on. The negative tests change one value on
top of the role's and check that the matching assertion fails, so none of them can pass by accident.

A keys-only chart (kube_schemas.KEYS_ONLY_CHARTS: kube-prometheus-stack, which the microk8s observability addon
installs) has no chart in $SHARED to render; its values are checked key by key in test_manifests.py, against its
values file and its subcharts'. The tests here make sure that is so: no chart folder that should be rendered instead,
the role's pin equal to the values files' version, and a misspelt key caught, at the top and under a subchart.
"""

import copy

import pytest
import yaml

import charts
import kube_schemas
import rendering

CHART_USES = charts.rendered_chart_uses()
KEYS_ONLY_USES = charts.keys_only_chart_uses()
INVENTORIES = rendering.discover_inventories()
USE_IDS = ["%s/%s" % (use.role, use.chart) for use in CHART_USES]
KEYS_ONLY_IDS = ["%s/%s" % (use.role, use.chart) for use in KEYS_ONLY_USES]


@pytest.fixture(scope="session")
def chart_render(rendered, shared_dir, kubernetes_version, tmp_path_factory):
    """render(use, inventory, override=None): the chart's documents; the role's own values are rendered once."""
    cache = {}

    def render(use, inventory, override=None):
        key = (use, inventory, yaml.safe_dump(override))
        if key not in cache:
            values = [rendered(inventory) / use.role / use.template[: -len(".j2")]]
            assert values[0].is_file(), "%s/%s was not rendered for %s" % (use.role, use.template, inventory)
            if override is not None:
                extra = tmp_path_factory.mktemp("override") / "values.yaml"
                extra.write_text(yaml.safe_dump(override))
                values.append(extra)
            cache[key] = charts.render_chart(
                charts.chart_dir(use, shared_dir / "charts", inventory),
                charts.setting(use.role, "%s_release_name" % use.role, inventory),
                charts.setting(use.role, "%s_namespace" % use.role, inventory),
                values,
                kubernetes_version,
            )
        return copy.deepcopy(cache[key])

    return render


def use_of(chart):
    found = [use for use in CHART_USES if use.chart == chart]
    assert len(found) == 1, "expected one role with templates/%s-values.yaml.j2, found %s" % (chart, found)
    return found[0]


def test_discovery_finds_every_chart_the_roles_install():
    # Guards the parametrisation: a role whose values template was renamed would otherwise drop out silently.
    assert {
        ("metallb", "metallb"),
        ("kong", "ingress"),
        ("cloudnative_pg", "cloudnative-pg"),
        ("cert_manager", "cert-manager"),
        ("barman_cloud", "plugin-barman-cloud"),
        ("garage", "garage"),
    } <= {(use.role, use.chart) for use in CHART_USES}, CHART_USES
    assert {(use.role, use.chart) for use in KEYS_ONLY_USES} == {("observability", "kube-prometheus-stack")}
    assert set(CHART_USES) | set(KEYS_ONLY_USES) == set(charts.discover_chart_templates())


@pytest.mark.parametrize("use", KEYS_ONLY_USES, ids=KEYS_ONLY_IDS)
def test_a_keys_only_chart_has_only_values_files_in_shared_at_the_role_pin(use, shared_dir):
    """Keys-only is a fact about the test data, not a way out: a chart folder to render must be rendered instead."""
    version = charts.keys_only_version(use)
    root = shared_dir / "charts"
    folders = sorted(p.parent.name for p in root.glob("%s-[0-9]*/Chart.yaml" % use.chart))
    assert folders == [], "$SHARED/charts has %s: render that chart (drop %s from kube_schemas.KEYS_ONLY_CHARTS)" % (
        folders,
        use.chart,
    )
    values = kube_schemas.chart_values_file(use.template, root)
    assert values.name == "%s-%s-values.yaml" % (use.chart, version), (values, version)
    declared = kube_schemas.KEYS_ONLY_CHARTS[use.chart]
    assert version in declared, "KEYS_ONLY_CHARTS has no subcharts for %s %s" % (use.chart, version)
    for subchart, subchart_version in declared[version].values():
        assert values.with_name("%s-%s-values.yaml" % (subchart, subchart_version)).is_file()


@pytest.mark.parametrize("use", KEYS_ONLY_USES, ids=KEYS_ONLY_IDS)
def test_a_misspelt_key_in_keys_only_values_fails_at_the_top_and_under_a_subchart(use, rendered, shared_dir):
    text = (rendered(INVENTORIES[0]) / use.role / use.template[: -len(".j2")]).read_text()
    upstream = kube_schemas.chart_values_file(use.template, shared_dir / "charts")
    assert kube_schemas.validate_helm_values(text, upstream) == []
    for alias in [None] + sorted(kube_schemas.KEYS_ONLY_CHARTS[use.chart][charts.keys_only_version(use)]):
        values = yaml.safe_load(text)
        node = values if alias is None else values[alias]
        *parents, leaf = _first_leaf(node)
        for key in parents:
            node = node[key]
        node[leaf + "x"] = node.pop(leaf)
        misspelt = ".".join(([alias] if alias else []) + parents + [leaf + "x"])
        assert kube_schemas.validate_helm_values(yaml.safe_dump(values), upstream) == [
            "%s is not a key of the chart's values" % misspelt
        ]


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("use", CHART_USES, ids=USE_IDS)
def test_chart_renders_only_valid_objects(use, inventory, chart_render, crds, kubernetes_version):
    documents = chart_render(use, inventory)
    problems = kube_schemas.validate_manifest_documents(documents, crds, kubernetes_version)
    problems += charts.duplicate_problems(documents) + charts.crd_problems(documents, crds)
    assert problems == [], "%s chart with the values of role %s for %s:\n  %s" % (
        use.chart,
        use.role,
        inventory,
        "\n  ".join(problems),
    )


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("use", CHART_USES, ids=USE_IDS)
def test_chart_gives_what_the_role_relies_on(use, inventory, chart_render, crds):
    problems = charts.role_problems(use, chart_render(use, inventory), inventory, crds)
    assert problems == [], "%s chart with the values of role %s for %s:\n  %s" % (
        use.chart,
        use.role,
        inventory,
        "\n  ".join(problems),
    )


@pytest.mark.parametrize("use", CHART_USES, ids=USE_IDS)
def test_chart_pin_matches_the_role_default(use, shared_dir):
    folder = charts.chart_dir(use, shared_dir / "charts")
    assert folder.name == "%s-%s" % (use.chart, charts.setting(use.role, "%s_chart_version" % use.role))


@pytest.mark.parametrize("role", sorted(charts.CONTRACT_NAMES))
def test_role_names_are_the_ones_other_roles_use(role):
    """The chart assertions use the role's own names; these must be the names of the interface contract."""
    assert {name: charts.setting(role, name) for name in charts.CONTRACT_NAMES[role]} == charts.CONTRACT_NAMES[role]


def test_settings_are_read_as_the_role_sees_them():
    assert (
        charts.setting("kong", "kong_proxy_service") == "kong-gateway-proxy"
    )  # "{{ kong_release_name }}-gateway-proxy"
    with pytest.raises(KeyError, match="kong_no_such_variable is not defined in roles/kong"):
        charts.setting("kong", "kong_no_such_variable")


def _first_leaf(values, path=()):
    for key, value in values.items():
        if isinstance(value, dict) and value:
            return _first_leaf(value, path + (key,))
        return path + (key,)
    return path


@pytest.mark.parametrize("use", CHART_USES, ids=USE_IDS)
def test_a_misspelt_key_in_the_role_values_fails_the_key_check(use, rendered, shared_dir):
    text = (rendered(INVENTORIES[0]) / use.role / use.template[: -len(".j2")]).read_text()
    values = yaml.safe_load(text)
    upstream = charts.chart_dir(use, shared_dir / "charts") / "values.yaml"
    assert kube_schemas.validate_helm_values(text, upstream) == []
    *parents, leaf = _first_leaf(values)
    node = values
    for key in parents:
        node = node[key]
    node[leaf + "x"] = node.pop(leaf)
    misspelt = ".".join(parents + [leaf + "x"])
    assert kube_schemas.validate_helm_values(yaml.safe_dump(values), upstream) == [
        "%s is not a key of the chart's values" % misspelt
    ]


# One value changed on top of the role's own, and the problem the assertions must then report.
BROKEN = [
    (
        "ingress",
        {"gateway": {"manager": {"enabled": True, "type": "NodePort"}}},
        "Service kong-gateway-manager is of type NodePort",
    ),
    (
        "ingress",
        {"gateway": {"admin": {"enabled": True, "type": "LoadBalancer", "clusterIP": None}}},
        "Service kong-gateway-admin is of type LoadBalancer",
    ),
    ("ingress", {"gateway": {"proxy": {"type": "ClusterIP"}}}, "Service kong-gateway-proxy is of type ClusterIP"),
    ("ingress", {"gateway": {"proxy": {"externalTrafficPolicy": "Cluster"}}}, "externalTrafficPolicy Cluster"),
    ("ingress", {"gateway": {"proxy": {"tls": {"enabled": False}}}}, "has ports [80], not 80 and 443"),
    ("ingress", {"gateway": {"replicaCount": 7}}, "kong-gateway has 7 replicas"),
    (
        "ingress",
        {"gateway": {"replicaCount": 2, "podDisruptionBudget": {"enabled": False}}},
        "no PodDisruptionBudget selects the gateway pods, with",
    ),
    (
        "ingress",
        {"gateway": {"podDisruptionBudget": {"enabled": True, "maxUnavailable": None, "minAvailable": "100%"}}},
        "lets no gateway pod of",
    ),
    ("ingress", {"controller": {"ingressController": {"ingressClass": "other"}}}, "no IngressClass kong"),
    ("ingress", {"controller": {"enabled": False}}, "no Deployment kong-controller"),
    ("ingress", {"gateway": {"serviceMonitor": {"enabled": False}}}, "no ServiceMonitor kong-gateway"),
    ("ingress", {"gateway": {"serviceMonitor": {"labels": {"release": "other"}}}}, "lacks the monitor labels"),
    ("ingress", {"gateway": {"serviceMonitor": {"namespace": "monitoring"}}}, "is in namespace monitoring, not kong"),
    ("ingress", {"gateway": {"status": {"enabled": False}}}, "the status port must be both"),
    ("ingress", {"gateway": {"serviceMonitor": {"honorLabels": False}}}, "does not honour the scraped labels"),
    ("cloudnative-pg", {"crds": {"create": False}}, "the chart renders 0 postgresql.cnpg.io CRDs"),
    ("cloudnative-pg", {"fullnameOverride": "operator"}, "no Deployment cnpg-cloudnative-pg"),
    ("cloudnative-pg", {"service": {"name": "webhook"}}, "no Service cnpg-webhook-service"),
    ("cert-manager", {"crds": {"enabled": False}}, "the chart renders the cert-manager CRDs []"),
    ("cert-manager", {"crds": {"keep": False}}, "lacks helm.sh/resource-policy: keep"),
    ("cert-manager", {"startupapicheck": {"enabled": True}}, "renders the Jobs ['cert-manager-startupapicheck']"),
    ("cert-manager", {"fullnameOverride": "cm"}, "no Deployment cert-manager (the role waits for it)"),
    ("ingress", {"gateway": {"secretVolumes": []}}, "does not mount the edge certificate's Secret kong-edge-tls"),
    ("ingress", {"gateway": {"env": {"ssl_cert": None}}}, "KONG_SSL_CERT is"),
    ("plugin-barman-cloud", {"service": {"port": 9091}}, "cnpg.io/pluginPort '9091' and its ports must both be 9090"),
    ("plugin-barman-cloud", {"crds": {"create": False}}, "the chart renders the CRDs []"),
    ("plugin-barman-cloud", {"certificate": {"createClientCertificate": False}}, "cnpg.io/pluginClientSecret"),
    ("plugin-barman-cloud", {"fullnameOverride": "barman"}, "no Deployment plugin-barman-cloud"),
    ("garage", {"deployment": {"podManagementPolicy": "OrderedReady"}}, "starts its pods OrderedReady"),
    ("garage", {"persistence": {"data": {"size": "1Gi"}}}, "volume claim data asks 1Gi"),
    ("garage", {"garage": {"replicationFactor": "3"}}, "does not set replication_factor = 1"),
    ("garage", {"readinessProbe": {"httpGet": {"path": "/"}}}, "readiness probe is"),
    ("garage", {"deployment": {"kind": "DaemonSet"}}, "no StatefulSet garage"),
    ("garage", {"image": {"repository": "dxflrs/amd64_garage"}}, "runs dxflrs/amd64_garage:v2.0.0"),
    ("metallb", {"speaker": {"frr": {"enabled": True}}}, "DaemonSet metallb-speaker runs the FRR container"),
    ("metallb", {"fullnameOverride": "lb"}, "no Deployment metallb-controller"),
    ("metallb", {"fullnameOverride": "lb"}, "no DaemonSet metallb-speaker"),
]


@pytest.mark.parametrize("chart, override, expected", BROKEN, ids=["%s-%d" % (b[0], i) for i, b in enumerate(BROKEN)])
def test_a_broken_value_fails_the_role_assertions(chart, override, expected, chart_render, crds):
    use = use_of(chart)
    problems = charts.role_problems(use, chart_render(use, INVENTORIES[0], override), INVENTORIES[0], crds)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    "chart, deployment, label",
    [
        ("ingress", "kong-gateway", "app.kubernetes.io/name"),
        ("ingress", "kong-controller", "app.kubernetes.io/instance"),
        ("cloudnative-pg", "cnpg-cloudnative-pg", "app.kubernetes.io/name"),
    ],
)
def test_pods_without_the_labels_other_roles_select_are_reported(chart, deployment, label, chart_render, crds):
    use = use_of(chart)
    documents = chart_render(use, INVENTORIES[0])
    labels = charts.named(documents, "Deployment")[deployment]["spec"]["template"]["metadata"]["labels"]
    labels[label] = "renamed"
    problems = charts.role_problems(use, documents, INVENTORIES[0], crds)
    assert any(p.startswith("pods of Deployment %s lack the labels {'%s'" % (deployment, label)) for p in problems), (
        problems
    )


INVALID_OBJECTS = [
    (
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "namespace": "kong"},
            "data": {"a": "b"},
            "bogus": 1,
        },
        "ConfigMap x: (root): Additional properties are not allowed ('bogus'",
    ),
    (
        {
            "apiVersion": "configuration.konghq.com/v1",
            "kind": "KongClusterPlugin",
            "metadata": {"name": "p"},
            "plugin": "correlation-id",
            "confg": {"header_name": "X-Request-ID"},
        },
        "KongClusterPlugin p: (root): Additional properties are not allowed ('confg'",
    ),
    (
        {
            "apiVersion": "policy/v1beta1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "old", "namespace": "kong"},
            "spec": {},
        },
        "Couldn't find schema",
    ),
]


@pytest.mark.parametrize(
    "document, expected", INVALID_OBJECTS, ids=["std-unknown-field", "crd-unknown-field", "removed-api"]
)
def test_an_invalid_object_in_a_real_render_is_reported(document, expected, chart_render, crds, kubernetes_version):
    """The kong chart renders `extraObjects` as given: the render goes through the same strict validation."""
    documents = chart_render(use_of("ingress"), INVENTORIES[0], {"gateway": {"extraObjects": [document]}})
    problems = kube_schemas.validate_manifest_documents(documents, crds, kubernetes_version)
    assert any(expected in problem for problem in problems), problems


def test_an_object_rendered_twice_is_reported(chart_render):
    twice = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "kong"}}
    documents = chart_render(use_of("ingress"), INVENTORIES[0], {"gateway": {"extraObjects": [twice, twice]}})
    assert charts.duplicate_problems(documents) == ["ConfigMap kong/x is rendered 2 times"]


def test_a_chart_crd_that_differs_from_the_test_crds_is_reported(chart_render, crds):
    documents = chart_render(use_of("cloudnative-pg"), INVENTORIES[0])
    crd = charts.named(documents, "CustomResourceDefinition")["clusters.postgresql.cnpg.io"]
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"].pop("spec")
    assert charts.crd_problems(documents, crds) == [
        "CRD clusters.postgresql.cnpg.io v1: the chart's schema differs from %s"
        % crds.lookup("postgresql.cnpg.io/v1", "Cluster")["source"]
    ]


def test_a_pin_without_its_chart_in_shared_is_an_error(shared_dir, tmp_path):
    use = use_of("metallb")
    with pytest.raises(FileNotFoundError, match="pins metallb_chart_version .*, but .* does not exist"):
        charts.chart_dir(use, tmp_path)


def test_disruption_budget_arithmetic():
    def budget(**spec):
        return {"spec": spec}

    assert charts._disruptions_allowed(budget(maxUnavailable=1), 2) == 1
    assert charts._disruptions_allowed(budget(maxUnavailable="50%"), 3) == 2
    assert charts._disruptions_allowed(budget(minAvailable=1), 2) == 1
    assert charts._disruptions_allowed(budget(minAvailable="50%"), 2) == 1
    assert charts._disruptions_allowed(budget(minAvailable="100%"), 2) == 0
    assert charts._disruptions_allowed(budget(maxUnavailable=0), 2) == 0


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_kong_resources_reach_the_containers_they_are_for(inventory, chart_render):
    """The controller release runs no Kong container: its resources must land on the ingress-controller container."""
    deployments = charts.named(chart_render(use_of("ingress"), inventory), "Deployment")
    containers = {
        (deployment, container["name"]): container.get("resources")
        for deployment in ("kong-controller", "kong-gateway")
        for container in deployments[deployment]["spec"]["template"]["spec"]["containers"]
    }
    expected = {
        ("kong-controller", "ingress-controller"): charts.setting("kong", "kong_controller_resources", inventory),
        ("kong-gateway", "proxy"): charts.setting("kong", "kong_gateway_resources", inventory),
    }
    for key, resources in expected.items():
        assert key in containers, "no container %s in Deployment %s: %s" % (key[1], key[0], sorted(containers))
        assert containers[key] == resources, "%s/%s has resources %s, the role sets %s" % (
            key + (containers[key], resources)
        )
