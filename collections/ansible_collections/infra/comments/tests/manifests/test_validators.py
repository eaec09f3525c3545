# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validators themselves: they reject what the API server would reject, or the manifest check proves nothing."""

import copy

import pytest

import kube_schemas
import testdata

POOL = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "IPAddressPool",
    "metadata": {"name": "pool", "namespace": "metallb-system"},
    "spec": {"addresses": ["10.0.0.0/28"], "autoAssign": True},
}
ADVERTISEMENT = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "L2Advertisement",
    "metadata": {"name": "l2", "namespace": "metallb-system"},
    "spec": {"ipAddressPools": ["pool"], "interfaces": ["eth1"]},
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]},
}


def changed(document, path, value):
    """A copy of document with the dotted path set to value (None deletes it)."""
    result = copy.deepcopy(document)
    *parents, last = path.split(".")
    node = result
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return result


def problems(document, crds, kubernetes_version):
    return kube_schemas.validate_manifest_documents([document], crds, kubernetes_version)


@pytest.mark.parametrize("document", [POOL, ADVERTISEMENT, SERVICE], ids=lambda d: d["kind"])
def test_valid_objects_pass(document, crds, kubernetes_version):
    assert problems(document, crds, kubernetes_version) == []


@pytest.mark.parametrize(
    "document, expected",
    [
        (changed(POOL, "spec.adresses", ["10.0.0.0/28"]), "Additional properties are not allowed ('adresses'"),
        (changed(POOL, "spec.addresses", "10.0.0.0/28"), "spec/addresses: '10.0.0.0/28' is not of type 'array'"),
        (changed(POOL, "spec.autoAssign", "yes"), "spec/autoAssign: 'yes' is not of type 'boolean'"),
        (changed(ADVERTISEMENT, "spec.interface", "eth1"), "Additional properties are not allowed ('interface'"),
        (changed(ADVERTISEMENT, "spec.ipAddressPools", [1]), "spec/ipAddressPools/0: 1 is not of type 'string'"),
        (changed(POOL, "metadata.namespace", None), "metadata.namespace is missing"),
        (
            changed(POOL, "metadata.label", {"a": "b"}),
            "IPAddressPool pool: metadata metadata: Additional properties are not allowed ('label' was unexpected)",
        ),
        (changed(POOL, "apiVersion", "metallb.io/v9"), "metallb.io/v9 is not a version/kind"),
        (
            changed(SERVICE, "spec.bogus", True),
            "Service web: spec: Additional properties are not allowed ('bogus' was unexpected)",
        ),
        (changed(SERVICE, "spec.ports", [{"port": "eighty"}]), "spec/ports/0/port: 'eighty' is not of type 'integer'"),
        (changed(SERVICE, "kind", "Servise"), "Couldn't find schema for kind Servise"),
        ({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "Couldn't find schema"),
        ({"kind": "Service"}, "not a Kubernetes object"),
    ],
    ids=[
        "crd-unknown-field",
        "crd-wrong-type",
        "crd-wrong-bool",
        "crd-bad-l2-field",
        "crd-wrong-element-type",
        "crd-no-namespace",
        "crd-bad-metadata",
        "crd-unknown-version",
        "std-unknown-field",
        "std-wrong-type",
        "std-unknown-kind",
        "unknown-group",
        "no-api-version",
    ],
)
def test_invalid_objects_are_rejected_with_the_reason(document, expected, crds, kubernetes_version):
    found = problems(document, crds, kubernetes_version)
    assert found, "the validator accepted an invalid object"
    assert any(expected in problem for problem in found), found


def test_an_empty_render_is_a_failure(crds, kubernetes_version):
    assert kube_schemas.validate_manifest_documents([], crds, kubernetes_version) == [
        "the template rendered no Kubernetes object"
    ]


def test_strict_schema_keeps_open_what_the_crd_leaves_open():
    schema = {
        "type": "object",
        "properties": {
            "open": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"a": {"type": "string"}},
            },
            "port": {"x-kubernetes-int-or-string": True},
            "maybe": {"type": "string", "nullable": True},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    validator = kube_schemas.jsonschema.Draft4Validator(kube_schemas.strict_crd_schema(schema))
    assert validator.is_valid({"open": {"anything": 1}, "port": "http", "maybe": None, "labels": {"x": "y"}})
    assert validator.is_valid({"port": 8080})
    assert not validator.is_valid({"port": 1.5})
    assert not validator.is_valid({"closed": 1})
    assert not validator.is_valid({"labels": {"x": 1}})


def test_go_inline_flags_are_moved_where_python_accepts_them():
    pattern = kube_schemas.python_pattern("^(?i)(abort|warn)?$")
    assert pattern == "(?i)^(abort|warn)?$"
    validator = kube_schemas.jsonschema.Draft4Validator(
        kube_schemas.strict_crd_schema({"type": "string", "pattern": "^(?i)(abort|warn)?$"})
    )
    assert validator.is_valid("WARN")
    assert not validator.is_valid("ignore")


def test_unsupported_kubernetes_version_is_refused():
    with pytest.raises(ValueError, match="no schemas for Kubernetes 1.99"):
        kube_schemas.require_supported_version("1.99")


UPSTREAM_VALUES = {
    "image": {"repository": "kong", "tag": "3.9"},
    "podAnnotations": {},
    "env": {"database": "off"},
    "replicaCount": 1,
}


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"image": {"tag": "3.9.1"}, "podAnnotations": {"a": "b"}, "env": {"database": "off"}}, []),
        ({"imag": {"tag": "x"}}, ["imag is not a key of the chart's values"]),
        ({"image": {"tga": "x"}}, ["image.tga is not a key of the chart's values"]),
        ({"replicaCount": {"min": 1}}, ["replicaCount is a map here but a int in the chart"]),
    ],
)
def test_helm_values_keys_must_exist_upstream(values, expected):
    assert kube_schemas.unknown_values_keys(values, UPSTREAM_VALUES) == expected


def test_helm_values_must_be_a_map(tmp_path):
    upstream = tmp_path / "values.yaml"
    upstream.write_text("a: 1\n")
    assert kube_schemas.validate_helm_values("- a\n", upstream) == ["rendered values are a list, not a map"]
    assert kube_schemas.validate_helm_values("b: 2\n", upstream) == ["b is not a key of the chart's values"]


def test_values_template_is_matched_to_exactly_one_chart_version(shared_dir, tmp_path):
    # The chart folder wins over the loose copy of its values.yaml: the key check needs its Chart.yaml and charts/.
    assert (
        kube_schemas.chart_values_file("kong-values.yaml.j2", shared_dir / "charts")
        == testdata.chart_dir("kong", testdata.chart_version("kong")) / "values.yaml"
    )
    assert testdata.values_file("kong").is_file()
    assert kube_schemas.chart_values_file("metallb-values.yaml.j2", shared_dir / "charts").parent == testdata.chart_dir(
        "metallb", testdata.chart_version("metallb")
    )
    with pytest.raises(ValueError, match="found none"):
        kube_schemas.chart_values_file("nginx-values.yaml.j2", shared_dir / "charts")
    (tmp_path / "kong").mkdir()
    for version in ("1.0.0", "2.0.0"):
        (tmp_path / "kong" / ("kong-%s-values.yaml" % version)).write_text("{}\n")
    with pytest.raises(ValueError, match="exactly one"):
        kube_schemas.chart_values_file("kong-values.yaml.j2", tmp_path)


def test_every_shared_crd_schema_becomes_a_valid_json_schema(crds):
    """Kong and prometheus-operator resources (later roles) go through the same conversion as MetalLB's."""
    assert {"metallb.io", "configuration.konghq.com", "monitoring.coreos.com"} <= crds.groups()
    for (group, version, kind), crd in crds.versions.items():
        schema = kube_schemas.strict_crd_schema(crd["schema"])
        kube_schemas.jsonschema.Draft4Validator.check_schema(schema)
        assert "x-kubernetes-int-or-string" not in str(schema), (group, version, kind)


def test_values_of_an_aliased_subchart_are_checked_against_the_subchart():
    """ingress 0.24.0 hands `controller:` and `gateway:` to kong 3.2.0 (aliases): its own values.yaml is too sparse."""
    ingress = testdata.chart_dir("ingress", testdata.chart_version("ingress")) / "values.yaml"
    good = (
        "gateway:\n  proxy:\n    type: LoadBalancer\n  replicaCount: 2\n"
        "controller:\n  ingressController:\n    ingressClass: kong\n"
    )
    assert kube_schemas.validate_helm_values(good, ingress) == []
    # Against ingress's values.yaml alone, the same file would be wrongly refused: the dependency makes it pass.
    assert "gateway.proxy is not a key of the chart's values" in kube_schemas.validate_helm_values(
        good, testdata.values_file("ingress")
    )
    bad = (
        "gateway:\n  proxy:\n    tpye: LoadBalancer\n  postgresql:\n    auth:\n      usernme: x\n"
        "controller:\n  bogus: 1\n"
    )
    assert kube_schemas.validate_helm_values(bad, ingress) == [
        "gateway.proxy.tpye is not a key of the chart's values",
        # kong's own dependency, bitnami postgresql
        "gateway.postgresql.auth.usernme is not a key of the chart's values",
        "controller.bogus is not a key of the chart's values",
    ]


def test_a_dependency_missing_from_the_chart_is_an_error(tmp_path):
    (tmp_path / "Chart.yaml").write_text(
        "name: app\nversion: 1.0.0\ndependencies:\n  - name: sub\n    version: 2.0.0\n    alias: s\n"
    )
    (tmp_path / "values.yaml").write_text("s: {}\n")
    with pytest.raises(ValueError, match="depends on sub 2.0.0 but has neither charts/sub/ nor charts/sub-2.0.0.tgz"):
        kube_schemas.validate_helm_values("s: {a: 1}\n", tmp_path / "values.yaml")


def test_keys_upstream_documents_in_comments_count_and_misspellings_do_not(tmp_path):
    upstream = tmp_path / "values.yaml"
    upstream.write_text(
        'podDisruptionBudget:\n  enabled: false\n  # Uncomment only one of the following\n  # maxUnavailable: "50%"\n'
        "deployment:\n  replicas: 1\n  # rollingUpdate:\n  #   maxSurge: 1\n"
    )
    good = "podDisruptionBudget:\n  maxUnavailable: 1\ndeployment:\n  rollingUpdate:\n    maxSurge: 2\n"
    assert kube_schemas.validate_helm_values(good, upstream) == []
    bad = "podDisruptionBudget:\n  maxUnavailble: 1\ndeployment:\n  rollingUpdate:\n    maxSurg: 2\n  maxSurge: 1\n"
    assert kube_schemas.validate_helm_values(bad, upstream) == [
        "podDisruptionBudget.maxUnavailble is not a key of the chart's values",
        "deployment.rollingUpdate.maxSurg is not a key of the chart's values",
        "deployment.maxSurge is not a key of the chart's values",  # documented under rollingUpdate, not here
    ]


def test_keys_the_kong_chart_reads_without_listing_them():
    """proxy.externalTrafficPolicy is read by kong's service helper but named nowhere in its values.yaml."""
    ingress = testdata.chart_dir("ingress", testdata.chart_version("ingress")) / "values.yaml"
    assert kube_schemas.validate_helm_values("gateway:\n  proxy:\n    externalTrafficPolicy: Local\n", ingress) == []
    assert kube_schemas.validate_helm_values("gateway:\n  proxy:\n    externalTraficPolicy: Local\n", ingress) == [
        "gateway.proxy.externalTraficPolicy is not a key of the chart's values"
    ]
    assert kube_schemas.validate_helm_values("gateway:\n  admin:\n    externalTrafficPolicy: Local\n", ingress) == [
        "gateway.admin.externalTrafficPolicy is not a key of the chart's values"
    ]
