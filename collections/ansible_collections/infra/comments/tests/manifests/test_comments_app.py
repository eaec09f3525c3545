# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The comments_app manifests keep the promises of the role's README, on the output rendered for each inventory.

Each test reads what `make manifests` rendered (the same render that kubernetes-validate and the CRDs check) and
asserts one promise; each compares against an independent expectation, so a template that breaks it fails here.
"""

import pytest
import yaml

import kube_schemas
import rendering

INVENTORIES = rendering.discover_inventories()
ROLE = "comments_app"
APP = "comments-api"
APP_LABELS = {"app.kubernetes.io/name": APP}
DB_LABELS = {"cnpg.io/cluster": "comments-db"}
DEFAULTS = yaml.safe_load((rendering.ROLES_DIR / ROLE / "defaults" / "main.yml").read_text())
# What the observability role publishes (its defaults and constants), which this role's monitor labels and OTLP
# endpoint default to.
OBSERVABILITY_DEFAULTS = yaml.safe_load((rendering.ROLES_DIR / "observability" / "defaults" / "main.yml").read_text())
# Prometheus' pods, as the NetworkPolicies must admit them (prometheus-operator's pod labels, namespace of the addon).
PROMETHEUS_PEER = ("observability", frozenset({("app.kubernetes.io/name", "prometheus")}))
# The app's own GRACEFUL_TIMEOUT default (docs/app.md), used when the Deployment does not set it.
APP_GRACEFUL_TIMEOUT_DEFAULT = 30


def documents(folder):
    found = []
    for name in (
        "namespace.yaml",
        "network-policies.yaml",
        "database.yaml",
        "app.yaml",
        "ingress.yaml",
        "monitors.yaml",
    ):
        found.extend(kube_schemas.load_documents((folder / ROLE / name).read_text()))
    return found


def one(docs, kind, name):
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, "expected one %s %s, found %d" % (kind, name, len(matches))
    return matches[0]


@pytest.fixture(scope="module", params=INVENTORIES)
def docs(request, rendered):
    return documents(rendered(request.param))


@pytest.fixture(scope="module")
def deployment(docs):
    return one(docs, "Deployment", APP)


@pytest.fixture(scope="module")
def container(deployment):
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def test_every_namespaced_object_is_in_the_app_namespace(docs):
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "comments", doc["metadata"]


def test_pod_and_container_security_context(deployment, container):
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 10001  # the image's user (app/Dockerfile: useradd --uid 10001)
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc.get("privileged", False) is False


def test_tmp_and_the_data_dir_are_writable_emptydirs(deployment, container):
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    for path in ("/tmp", "/var/lib/comments-api"):
        assert path in mounts, "%s is not mounted" % path
        assert "emptyDir" in volumes[mounts[path]], "%s is not an emptyDir" % path
        assert not [m for m in container["volumeMounts"] if m["mountPath"] == path and m.get("readOnly")]


def test_probes_hit_the_app_health_routes(container):
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ("http", 8000)
    # /healthz can wait up to the app's bound on a silent database (5 s, docs/app.md "Bounded waits"):
    # liveness must not fail for it.
    assert container["livenessProbe"]["timeoutSeconds"] > 5


def test_rolling_update_never_drops_a_ready_pod(deployment):
    strategy = deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    assert strategy["rollingUpdate"]["maxSurge"] == 1


def test_prestop_pause_is_long_enough_and_fits_in_the_grace_period(deployment, container):
    pre_stop = container["lifecycle"]["preStop"]
    assert set(pre_stop) == {"sleep"}, pre_stop
    seconds = pre_stop["sleep"]["seconds"]
    # Longer than endpoint propagation (a few seconds through Kong and kube-proxy).
    assert seconds >= 5
    graceful = int(env_of(container).get("GRACEFUL_TIMEOUT", {}).get("value", APP_GRACEFUL_TIMEOUT_DEFAULT))
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert seconds < grace
    assert seconds + graceful < grace, "SIGKILL would cut gunicorn's graceful shutdown short"


def test_replicas_are_spread_over_nodes_without_blocking_a_single_node(deployment):
    assert deployment["spec"]["replicas"] == DEFAULTS["comments_app_replicas"] == 2
    constraints = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    by_host = [c for c in constraints if c["topologyKey"] == "kubernetes.io/hostname"]
    assert len(by_host) == 1
    assert by_host[0]["whenUnsatisfiable"] == "ScheduleAnyway"
    assert by_host[0]["labelSelector"]["matchLabels"] == APP_LABELS


def test_resources_have_requests_and_limits(container):
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]
    assert container["resources"] == DEFAULTS["comments_app_resources"]


def test_database_url_comes_from_the_operator_secret(container):
    database_url = env_of(container)["DATABASE_URL"]
    assert "value" not in database_url, "DATABASE_URL must not be written into the manifest"
    assert database_url["valueFrom"]["secretKeyRef"] == {"name": "comments-db-app", "key": "uri"}


def test_the_built_image_is_never_pulled(container):
    # Default inventories build the image: it exists only in the nodes' containerd.
    assert DEFAULTS["comments_app_image"] == ""
    assert container["imagePullPolicy"] == "Never"
    assert container["image"].startswith(DEFAULTS["comments_app_image_repository"] + ":1.0.0-")


def test_service_maps_port_80_to_the_http_container_port(docs):
    service = one(docs, "Service", APP)
    assert service["spec"]["selector"] == APP_LABELS
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_autoscaler_runs_2_to_6_pods_on_cpu(docs):
    hpa = one(docs, "HorizontalPodAutoscaler", APP)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": APP}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource"
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert 0 < metric["resource"]["target"]["averageUtilization"] <= 100


def test_disruption_budget_keeps_a_pod_serving(docs):
    pdb = one(docs, "PodDisruptionBudget", APP)
    assert pdb["spec"]["selector"]["matchLabels"] == APP_LABELS
    spec = pdb["spec"]
    assert spec.get("minAvailable") == 1 or spec.get("maxUnavailable") == 1, spec


def test_ingress_uses_kong_and_names_plugins_that_exist(docs):
    plugins = {d["metadata"]["name"]: d for d in docs if d["kind"] == "KongPlugin"}
    ingresses = [d for d in docs if d["kind"] == "Ingress"]
    assert {i["metadata"]["name"] for i in ingresses} == {APP, "comments-api-rate-limit-probe"}
    for ingress in ingresses:
        assert ingress["spec"]["ingressClassName"] == "kong"
        named = [p.strip() for p in ingress["metadata"]["annotations"]["konghq.com/plugins"].split(",")]
        assert named and all(name in plugins for name in named), (named, sorted(plugins))
    main = one(docs, "Ingress", APP)
    named = {p.strip() for p in main["metadata"]["annotations"]["konghq.com/plugins"].split(",")}
    assert {plugins[name]["plugin"] for name in named} == {"rate-limiting", "request-size-limiting"}


def test_ingress_exposes_only_the_public_paths(docs):
    main = one(docs, "Ingress", APP)
    paths = [p for rule in main["spec"]["rules"] for p in rule["http"]["paths"]]
    assert sorted(p["path"] for p in paths) == ["/api", "/apidocs", "/openapi.json"]
    for path in paths:
        assert path["pathType"] == "Prefix"
        assert path["backend"]["service"] == {"name": APP, "port": {"name": "http"}}


def test_request_size_limit_is_the_app_limit(docs, container):
    plugin = one(docs, "KongPlugin", "comments-api-request-size-limiting")
    assert plugin["plugin"] == "request-size-limiting"
    assert plugin["config"]["size_unit"] == "bytes"
    assert plugin["config"]["require_content_length"] is False
    assert plugin["config"]["allowed_payload_size"] == int(env_of(container)["MAX_BODY_BYTES"]["value"])
    assert plugin["config"]["allowed_payload_size"] == DEFAULTS["comments_app_max_body_bytes"]


def test_rate_limits_per_client_ip_locally(docs):
    api = one(docs, "KongPlugin", "comments-api-rate-limiting")
    probe = one(docs, "KongPlugin", "comments-api-rate-limit-probe")
    for plugin in (api, probe):
        assert plugin["plugin"] == "rate-limiting"
        assert plugin["config"]["limit_by"] == "ip"
        assert plugin["config"]["policy"] == "local"
    assert api["config"]["minute"] == DEFAULTS["comments_app_rate_limit_per_minute"] >= 1000
    assert probe["config"]["minute"] == DEFAULTS["comments_app_rate_limit_probe_per_minute"] < 100
    probe_ingress = one(docs, "Ingress", "comments-api-rate-limit-probe")
    assert probe_ingress["metadata"]["annotations"]["konghq.com/strip-path"] == "true"
    assert [p["path"] for r in probe_ingress["spec"]["rules"] for p in r["http"]["paths"]] == ["/rate-limit-probe"]


# --- NetworkPolicies: (selected pods, peer namespace or None for the same namespace, peer pod labels, ports) ---
EXPECTED_FLOWS = {
    (frozenset(APP_LABELS.items()), "kong", frozenset({("app.kubernetes.io/name", "gateway")}), frozenset({8000})),
    (frozenset(DB_LABELS.items()), None, frozenset(APP_LABELS.items()), frozenset({5432})),
    (
        frozenset(DB_LABELS.items()),
        "cnpg-system",
        frozenset({("app.kubernetes.io/name", "cloudnative-pg")}),
        frozenset({8000, 5432}),
    ),
    (frozenset(DB_LABELS.items()), None, frozenset(DB_LABELS.items()), frozenset({5432, 8000})),
    (
        frozenset(APP_LABELS.items()),
        "observability",
        frozenset({("app.kubernetes.io/name", "prometheus")}),
        frozenset({8000}),
    ),
    (
        frozenset(DB_LABELS.items()),
        "observability",
        frozenset({("app.kubernetes.io/name", "prometheus")}),
        frozenset({9187}),
    ),
}


def admitted_flows(policies):
    """Every (pods, peer namespace, peer labels, ports) an ingress rule admits; fails on any broader rule."""
    flows = set()
    for policy in policies:
        spec = policy["spec"]
        assert spec.get("policyTypes") == ["Ingress"], policy["metadata"]["name"]
        selected = frozenset(spec["podSelector"].get("matchLabels", {}).items())
        for rule in spec.get("ingress", []):
            assert rule.get("from"), "%s admits every source" % policy["metadata"]["name"]
            assert rule.get("ports"), "%s admits every port" % policy["metadata"]["name"]
            ports = frozenset(p["port"] for p in rule["ports"])
            assert all(p.get("protocol", "TCP") == "TCP" for p in rule["ports"])
            for peer in rule["from"]:
                assert "ipBlock" not in peer, "%s admits an address block" % policy["metadata"]["name"]
                assert peer.get("podSelector", {}).get("matchLabels"), (
                    "%s admits every pod" % policy["metadata"]["name"]
                )
                assert set(peer["podSelector"]) == {"matchLabels"}
                namespace = None
                if "namespaceSelector" in peer:
                    assert set(peer["namespaceSelector"]) == {"matchLabels"}
                    labels = peer["namespaceSelector"]["matchLabels"]
                    assert list(labels) == ["kubernetes.io/metadata.name"], labels
                    namespace = labels["kubernetes.io/metadata.name"]
                flows.add((selected, namespace, frozenset(peer["podSelector"]["matchLabels"].items()), ports))
    return flows


def test_ingress_is_denied_by_default(docs):
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")]
    assert len(deny) == 1
    assert deny[0]["spec"]["policyTypes"] == ["Ingress"]
    assert all(p["spec"]["podSelector"] != {} for p in policies if p is not deny[0]), "a policy selects every pod"


def test_network_policies_admit_exactly_the_expected_flows(docs):
    policies = [d for d in docs if d["kind"] == "NetworkPolicy" and d["spec"]["podSelector"] != {}]
    assert admitted_flows(policies) == EXPECTED_FLOWS


def test_the_flow_check_catches_a_broader_policy(docs):
    """The check above fails on a policy that admits more: guards it against passing vacuously."""
    policies = [d for d in docs if d["kind"] == "NetworkPolicy" and d["spec"]["podSelector"] != {}]
    wide = yaml.safe_load(yaml.safe_dump(policies[0]))
    wide["spec"]["ingress"][0]["from"].append({"podSelector": {"matchLabels": {"app": "anything"}}})
    assert admitted_flows(policies + [wide]) != EXPECTED_FLOWS
    open_port = yaml.safe_load(yaml.safe_dump(policies[0]))
    del open_port["spec"]["ingress"][0]["ports"]
    with pytest.raises(AssertionError, match="admits every port"):
        admitted_flows([open_port])


# --- Database ---


def test_database_cluster_bootstraps_the_app_database(docs):
    cluster = one(docs, "Cluster", "comments-db")
    assert cluster["spec"]["bootstrap"]["initdb"] == {"database": "app", "owner": "app"}
    assert cluster["spec"]["storage"] == {
        "storageClass": "microk8s-hostpath",
        "size": DEFAULTS["comments_app_db_storage_size"],
    }
    assert "enableSuperuserAccess" not in cluster["spec"] or cluster["spec"]["enableSuperuserAccess"] is False


def test_max_connections_covers_every_replica_at_its_peak(docs, container):
    cluster = one(docs, "Cluster", "comments-db")
    hpa = one(docs, "HorizontalPodAutoscaler", APP)
    env = env_of(container)
    workers, threads = int(env["WEB_CONCURRENCY"]["value"]), int(env["THREADS"]["value"])
    surge = one(docs, "Deployment", APP)["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    need = (hpa["spec"]["maxReplicas"] + surge) * workers * (threads + 1)
    assert int(cluster["spec"]["postgresql"]["parameters"]["max_connections"]) >= need + 10


def render_with_hosts(tmp_path_factory, count, **host_vars):
    work = tmp_path_factory.mktemp("render-%d-nodes" % count)
    hosts = {"node%d" % n: dict(host_vars, node_ip="192.168.56.%d" % (10 + n)) for n in range(1, count + 1)}
    result = rendering.render_inventory("vagrant", work / "work", work / "out", hosts=hosts)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return documents(work / "out")


@pytest.mark.parametrize("nodes, instances", [(1, 1), (3, 3)])
def test_database_instances_follow_the_node_count(tmp_path_factory, nodes, instances):
    cluster = one(render_with_hosts(tmp_path_factory, nodes), "Cluster", "comments-db")
    assert cluster["spec"]["instances"] == instances


def test_gcp_single_node_gets_one_instance(rendered):
    gcp_hosts = rendering.sample_hosts("gcp")
    assert len(gcp_hosts) == 1
    assert one(documents(rendered("gcp")), "Cluster", "comments-db")["spec"]["instances"] == 1


def test_a_published_image_is_pulled_and_nothing_is_built(tmp_path_factory):
    image = "ghcr.io/example/comments-api@sha256:" + "ab" * 32
    docs = render_with_hosts(tmp_path_factory, 1, comments_app_image=image)
    [container] = one(docs, "Deployment", APP)["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image
    assert container["imagePullPolicy"] == "IfNotPresent"
    labels = one(docs, "Deployment", APP)["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == "ab" * 6


# --- Monitors and tracing (interface contract of issue 8) ---


def test_service_monitor_scrapes_the_app_metrics_through_its_service(docs):
    monitor = one(docs, "ServiceMonitor", APP)
    service = one(docs, "Service", APP)
    assert OBSERVABILITY_DEFAULTS["observability_monitor_labels"].items() <= monitor["metadata"]["labels"].items()
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["comments"]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    # A ServiceMonitor's port is a Service port name; job="comments-api" is the Service's name (no jobLabel).
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert "jobLabel" not in monitor["spec"] and service["metadata"]["name"] == "comments-api"


def test_pod_monitor_scrapes_each_instance_with_cluster_and_role(docs):
    monitor = one(docs, "PodMonitor", "comments-db")
    assert OBSERVABILITY_DEFAULTS["observability_monitor_labels"].items() <= monitor["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "cnpg.io/cluster": "comments-db",
        "cnpg.io/podRole": "instance",
    }
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    # CloudNativePG names the exporter's container port `metrics` (9187).
    assert endpoint["port"] == "metrics"
    relabel = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}
    assert relabel == {
        "cluster": ["__meta_kubernetes_pod_label_cnpg_io_cluster"],
        "role": ["__meta_kubernetes_pod_label_cnpg_io_instanceRole"],
    }
    assert all(r.get("action", "replace") == "replace" for r in endpoint["relabelings"])


def test_network_policies_admit_prometheus_to_both_scraped_ports(docs, container):
    policies = [d for d in docs if d["kind"] == "NetworkPolicy" and d["spec"]["podSelector"] != {}]
    flows = admitted_flows(policies)
    service = one(docs, "Service", APP)
    [http] = [p for p in service["spec"]["ports"] if p["name"] == "http"]
    app_port = {p["name"]: p["containerPort"] for p in container["ports"]}[http["targetPort"]]
    for pods, port in ((APP_LABELS, app_port), (DB_LABELS, 9187)):
        assert any(
            selected == frozenset(pods.items()) and (namespace, peer) == PROMETHEUS_PEER and port in ports
            for selected, namespace, peer, ports in flows
        ), (pods, port)


def test_traces_go_to_the_observability_roles_endpoint(container):
    env = env_of(container)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://tempo.observability.svc:4318"
    assert env["OTEL_SERVICE_NAME"]["value"] == APP
