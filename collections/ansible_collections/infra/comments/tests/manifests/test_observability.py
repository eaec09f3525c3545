"""The observability role's manifests and values keep the promises of its README, on the output rendered per inventory.

Each test reads what `make manifests` rendered (the same render test_manifests.py validates: the values key by key
against kube-prometheus-stack 77.6.2's and grafana 9.4.5's defaults, the objects strictly against Kubernetes and the
CRDs) and asserts one promise against an expectation of its own: the role's files, the upstream defaults in $SHARED,
or a fact read from upstream, written here with its source.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

import kube_schemas
import rendering
import testdata

INVENTORIES = rendering.discover_inventories()
ROLE = "observability"
ROLE_DIR = rendering.ROLES_DIR / ROLE
DEFAULTS = yaml.safe_load((ROLE_DIR / "defaults" / "main.yml").read_text())
CONSTANTS = yaml.safe_load((ROLE_DIR / "vars" / "main.yml").read_text())
DASHBOARD_FILES = sorted((ROLE_DIR / "files" / "dashboards").glob("*.json"))
RULE_FILES = sorted((ROLE_DIR / "files" / "rules").glob("*.rules.yml"))
# The three dashboards of issue 8 (the interface contract names the files).
CONTRACT_DASHBOARDS = {"comments-api.json", "gateway.json", "database.json"}

# Facts read from upstream, not from the role:
# - the tempo chart 1.24.1 (grafana/helm-charts, tag tempo-1.24.1, 7c19e102): values.yaml tempo.server.http_listen_port
#   3200 (Tempo's HTTP API, the Service port tempo-prom-metrics in templates/_ports.tpl) and the OTLP/HTTP receiver
#   on 0.0.0.0:4318 (tempo.receivers.otlp.protocols.http), the Service port tempo-otlp-http; release tempo gives the
#   Service name tempo (the fullname helper drops the chart name when the release contains it).
TEMPO_HTTP_PORT = 3200
TEMPO_OTLP_HTTP_PORT = 4318
# - loki-stack 2.10.3 / loki 2.16.0 (same repository): Service loki (release loki), port 3100 (loki.service.port).
LOKI_PORT = 3100
# - microk8s-core-addons branch 1.35 (ec06cfb5), addons/observability/enable: its --set flags give
#   grafana.additionalDataSources[0] loki and [1] tempo, in that order.
ADDON_DATASOURCE_ORDER = [("loki", "loki"), ("tempo", "tempo")]
# - the app's log line of a traced request ends with this (app/comments_api/tracing.py, annotate()).
TRACED_LOG_SUFFIX = ', "trace_id": "%032x", "span_id": "%016x"'


def rendered_file(rendered, inventory, name):
    return rendered(inventory) / ROLE / name


def values_of(rendered, inventory):
    return yaml.safe_load(rendered_file(rendered, inventory, "kube-prometheus-stack-values.yaml").read_text())


def documents_of(rendered, inventory, name):
    return kube_schemas.load_documents(rendered_file(rendered, inventory, name).read_text())


@pytest.fixture(scope="module")
def upstream(shared_dir):
    """kube-prometheus-stack's and its grafana's default values (the versions requirements/test-data.yml lists), as
    the chart merges them for grafana:."""
    stack = yaml.safe_load(testdata.values_file("kube-prometheus-stack").read_text())
    grafana = yaml.safe_load(testdata.values_file("grafana").read_text())
    return stack, grafana


def test_the_role_has_the_contract_dashboards_and_some_rules():
    # Guards the per-file checks below against an empty glob.
    assert CONTRACT_DASHBOARDS <= {path.name for path in DASHBOARD_FILES}, DASHBOARD_FILES
    assert RULE_FILES, "no files/rules/*.rules.yml"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_grafana_logs_in_with_the_role_secret_never_the_chart_default(inventory, rendered, upstream):
    stack, grafana = upstream
    values = values_of(rendered, inventory)
    admin = values["grafana"]["admin"]
    assert admin == {
        "existingSecret": CONSTANTS["observability_grafana_admin_secret"],
        "userKey": CONSTANTS["observability_grafana_admin_user_key"],
        "passwordKey": CONSTANTS["observability_grafana_admin_password_key"],
    }
    # The keys the role writes into its Secret are the ones the grafana chart reads (admin.userKey / passwordKey).
    assert (admin["userKey"], admin["passwordKey"]) == (grafana["admin"]["userKey"], grafana["admin"]["passwordKey"])
    # The chart's default password exists upstream; with existingSecret set the chart makes no Secret from it.
    assert stack["grafana"]["adminPassword"] == "prom-operator"
    assert "adminPassword" not in values["grafana"] and "prom-operator" not in json.dumps(values)


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_monitor_labels_are_the_release_label_prometheus_selects_by(inventory, rendered, upstream):
    stack, _grafana = upstream
    spec = stack["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule"):
        # With the *NilUsesHelmValues defaults the chart's Prometheus selects `release: <release name>`.
        assert spec["%sSelectorNilUsesHelmValues" % kind] is True
        assert spec["%sSelector" % kind] == {}
        assert "%sSelector" % kind not in values_of(rendered, inventory)["prometheus"]["prometheusSpec"]
    assert DEFAULTS["observability_monitor_labels"] == {
        "release": CONSTANTS["observability_kube_prometheus_stack_release"]
    }


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_prometheus_serves_under_its_path_inside_and_outside(inventory, rendered):
    spec = values_of(rendered, inventory)["prometheus"]["prometheusSpec"]
    path = DEFAULTS["observability_prometheus_path"]
    assert spec["routePrefix"] == path
    # The external URL's path is what Prometheus' redirects use: it must be the route prefix too.
    assert re.fullmatch(r"http://[a-z0-9.-]+:\d+" + re.escape(path), spec["externalUrl"]), spec["externalUrl"]
    assert spec["retention"] == DEFAULTS["observability_prometheus_retention"]
    assert spec["retentionSize"] == DEFAULTS["observability_prometheus_retention_size"]
    assert spec["resources"] == DEFAULTS["observability_prometheus_resources"]


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_grafana_serves_under_the_path_kong_routes(inventory, rendered):
    grafana = values_of(rendered, inventory)["grafana"]
    path = DEFAULTS["observability_grafana_path"]
    server = grafana["grafana.ini"]["server"]
    assert server["root_url"].endswith(path + "/") and server["serve_from_sub_path"] is True
    # Grafana redirects /metrics without the sub-path to root_url; the ServiceMonitor must ask with it.
    assert grafana["serviceMonitor"]["path"] == path + "/metrics"
    assert grafana["resources"] == DEFAULTS["observability_grafana_resources"]
    [ingress] = [d for d in documents_of(rendered, inventory, "routes.yaml") if d["kind"] == "Ingress"]
    assert ingress["spec"]["ingressClassName"] == "kong"
    assert ingress["metadata"]["annotations"]["konghq.com/strip-path"] == "false"
    [rule] = ingress["spec"]["rules"]
    [route] = rule["http"]["paths"]
    assert (route["path"], route["pathType"]) == (path, "Prefix")
    assert route["backend"]["service"] == {
        "name": CONSTANTS["observability_grafana_service"],
        "port": {"number": CONSTANTS["observability_grafana_port"]},
    }


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_prometheus_is_not_routed_unless_exposed(inventory, rendered):
    documents = documents_of(rendered, inventory, "routes.yaml")
    assert DEFAULTS["observability_prometheus_expose"] is False
    assert [(d["kind"], d["metadata"]["name"]) for d in documents] == [("Ingress", "grafana")]


@pytest.fixture(scope="module")
def exposed(tmp_path_factory):
    work = tmp_path_factory.mktemp("render-exposed")
    hosts = {"node1": {"node_ip": "192.168.56.11", "observability_prometheus_expose": True}}
    result = rendering.render_inventory("vagrant", work / "work", work / "out", hosts=hosts)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return kube_schemas.load_documents((work / "out" / ROLE / "routes.yaml").read_text())


def test_exposed_prometheus_is_valid_and_behind_basic_auth(exposed, crds, kubernetes_version):
    assert kube_schemas.validate_manifest_documents(exposed, crds, kubernetes_version) == []
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in exposed}
    ingress = by_kind[("Ingress", "prometheus")]
    [plugin_name] = [p.strip() for p in ingress["metadata"]["annotations"]["konghq.com/plugins"].split(",")]
    plugin = by_kind[("KongPlugin", plugin_name)]
    assert plugin["plugin"] == "basic-auth" and plugin["config"]["hide_credentials"] is True
    [consumer] = [d for d in exposed if d["kind"] == "KongConsumer"]
    assert consumer["username"] == CONSTANTS["observability_prometheus_user"]
    assert consumer["credentials"] == [CONSTANTS["observability_prometheus_credential_secret"]]
    assert consumer["metadata"]["annotations"]["kubernetes.io/ingress.class"] == "kong"
    [route] = ingress["spec"]["rules"][0]["http"]["paths"]
    # No prefix stripping: Prometheus serves under the same path (its routePrefix).
    assert route["path"] == DEFAULTS["observability_prometheus_path"]
    assert ingress["metadata"]["annotations"]["konghq.com/strip-path"] == "false"
    assert route["backend"]["service"] == {
        "name": CONSTANTS["observability_prometheus_service"],
        "port": {"number": CONSTANTS["observability_prometheus_port"]},
    }
    # Nothing secret in the applied template: the credential Secret is written by the role apart from it.
    assert not [d for d in exposed if d["kind"] == "Secret"]


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_datasources_keep_the_addon_order_and_reach_loki_and_tempo(inventory, rendered):
    sources = values_of(rendered, inventory)["grafana"]["additionalDataSources"]
    # The enable script --sets name, type and url at these indices: the same order, so each merges into its own.
    assert [(s["name"], s["type"]) for s in sources] == ADDON_DATASOURCE_ORDER
    loki, tempo = sources
    assert loki["url"] == "http://loki.observability.svc.cluster.local:%d" % LOKI_PORT
    assert tempo["url"] == "http://tempo.observability.svc.cluster.local:%d" % TEMPO_HTTP_PORT
    assert (loki["uid"], tempo["uid"]) == (CONSTANTS["observability_loki_datasource_uid"], "tempo")
    [derived] = loki["jsonData"]["derivedFields"]
    assert derived["datasourceUid"] == tempo["uid"]
    # Grafana's provisioning reads $VAR and ${VAR}; $$ is its escape for a literal $.
    assert derived["url"] == "$${__value.raw}"
    trace_id = 0x4BF92F3577B34DA6A3CE929D0E0E4736
    line = '{"method": "GET", "status": 200, "request_id": "r1"' + TRACED_LOG_SUFFIX % (trace_id, 7) + "}"
    assert re.search(derived["matcherRegex"], line).group(1) == "%032x" % trace_id


def test_the_published_otlp_endpoint_is_tempos_otlp_http_receiver():
    assert CONSTANTS["observability_tempo_otlp_http_port"] == TEMPO_OTLP_HTTP_PORT
    assert CONSTANTS["observability_tempo_http_port"] == TEMPO_HTTP_PORT
    assert CONSTANTS["observability_tempo_service"] == "tempo"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_one_dashboard_configmap_per_file_with_the_sidecar_label(inventory, rendered, upstream):
    stack, _grafana = upstream
    sidecar = stack["grafana"]["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True
    assert values_of(rendered, inventory)["grafana"]["sidecar"]["dashboards"] == {
        "label": sidecar["label"],
        "labelValue": sidecar["labelValue"],
    }
    maps = documents_of(rendered, inventory, "dashboards.yaml")
    assert [d["kind"] for d in maps] == ["ConfigMap"] * len(DASHBOARD_FILES)
    for document, path in zip(maps, DASHBOARD_FILES, strict=True):
        assert document["metadata"]["namespace"] == "observability"
        assert document["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
        assert list(document["data"]) == [path.name]
        assert json.loads(document["data"][path.name]) == json.loads(path.read_text())


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_one_prometheus_rule_per_rules_file_with_its_groups_and_the_monitor_labels(inventory, rendered):
    rules = documents_of(rendered, inventory, "prometheus-rules.yaml")
    assert [d["kind"] for d in rules] == ["PrometheusRule"] * len(RULE_FILES)
    for document, path in zip(rules, RULE_FILES, strict=True):
        assert document["metadata"]["namespace"] == "observability"
        labels = document["metadata"]["labels"]
        assert DEFAULTS["observability_monitor_labels"].items() <= labels.items()
        assert document["spec"]["groups"] == yaml.safe_load(path.read_text())["groups"]


def keys_of(values, path=""):
    if isinstance(values, dict):
        for key, value in values.items():
            yield "%s.%s" % (path, key) if path else key
            yield from keys_of(value, "%s.%s" % (path, key) if path else key)
    elif isinstance(values, list):
        for position, value in enumerate(values):
            yield from keys_of(value, "%s[%d]" % (path, position))


def test_the_values_hold_no_secret(rendered):
    """The values file sits on the node and in the Helm release: passwords must stay in their Secrets."""
    keys = list(keys_of(values_of(rendered, INVENTORIES[0])))
    assert "grafana.admin.passwordKey" in keys  # the walk sees the keys
    assert [k for k in keys if re.search(r"(?i)(password|secret|token)", k.rpartition(".")[2])] == [
        "grafana.admin.existingSecret",
        "grafana.admin.passwordKey",
    ]


@pytest.fixture(scope="module")
def without_observability(tmp_path_factory):
    """The later roles with empty monitor labels and no OTLP endpoint, as when the observability play is left out."""
    work = tmp_path_factory.mktemp("render-no-observability")
    hosts = {
        "node1": {
            "node_ip": "192.168.56.11",
            "kong_service_monitor_labels": {},
            "comments_app_monitor_labels": {},
            "comments_app_otlp_endpoint": "",
        }
    }
    result = rendering.render_inventory("vagrant", work / "work", work / "out", hosts=hosts)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return Path(work / "out")


def test_empty_monitor_labels_turn_the_kong_service_monitor_off(without_observability, rendered):
    off = yaml.safe_load((without_observability / "kong" / "ingress-values.yaml").read_text())
    assert off["gateway"]["serviceMonitor"] == {"enabled": False}
    on = yaml.safe_load((rendered(INVENTORIES[0]) / "kong" / "ingress-values.yaml").read_text())
    assert on["gateway"]["serviceMonitor"]["labels"] == DEFAULTS["observability_monitor_labels"]


def test_no_otlp_endpoint_means_no_tracing_settings(without_observability):
    app = kube_schemas.load_documents((without_observability / "comments_app" / "app.yaml").read_text())
    [deployment] = [d for d in app if d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert not [e for e in container["env"] if e["name"].startswith("OTEL_")]


# Prometheus and Kubernetes sizes in bytes: both count in powers of 1024 (Prometheus' units.Base2Bytes: KB = KiB).
BINARY_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def size_in_bytes(text, pattern):
    match = re.fullmatch(pattern, text)
    assert match, "%r is not a size of the form %s" % (text, pattern)
    return float(match.group(1)) * BINARY_UNITS[match.group(2)]


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_prometheus_keeps_its_samples_on_a_bounded_claim(inventory, rendered, kubernetes_version):
    """Issue 15, risk 5: not the chart's emptyDir but a claim on the cluster's default storage class, of the role's
    size, large enough that retentionSize (with the WAL and compactions) fits in it."""
    spec = values_of(rendered, inventory)["prometheus"]["prometheusSpec"]
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == DEFAULTS["observability_prometheus_storage_size"]
    assert claim["accessModes"] == ["ReadWriteOnce"]
    # No class named: the cluster's default (microk8s-hostpath), as the README says.
    assert "storageClassName" not in claim and DEFAULTS["observability_prometheus_storage_class"] == ""
    volume = size_in_bytes(claim["resources"]["requests"]["storage"], r"(\d+)(K|M|G|T)i")
    limit = size_in_bytes(spec["retentionSize"], r"(\d+(?:\.\d+)?)(K|M|G|T|P|)i?B")
    assert limit <= 0.85 * volume, "retentionSize %s does not leave 15 %% of the %s volume for the WAL" % (
        spec["retentionSize"],
        claim["resources"]["requests"]["storage"],
    )
    # The operator makes a PersistentVolumeClaim of this spec: it must be a valid one for the pinned Kubernetes.
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "prometheus-db", "namespace": CONSTANTS["observability_namespace"]},
        "spec": claim,
    }
    assert kube_schemas.validate_standard(pvc, kubernetes_version) == []
