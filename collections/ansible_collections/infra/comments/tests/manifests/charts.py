# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real Helm charts the roles install, rendered with the values the roles pass, and what the roles rely on in them.

A role that installs a chart keeps its values in `templates/<chart>-values.yaml.j2`. The chart is the folder
`$SHARED/charts/<chart>-<version>/`, where the version is the role's `<role>_chart_version` default. The release name
and namespace are the role's `<role>_release_name` and `<role>_namespace`. `helm template` renders it for the pinned
Kubernetes version, and the `*_problems` functions below list what a role expects of the result (empty when all is
there), so the tests can also feed them renders that must fail.

Not every chart can be rendered: $SHARED/charts holds some only as default values files, with no Chart.yaml or
templates (kube-prometheus-stack, which the microk8s observability addon installs: see $SHARED/charts/README.md). Those
are declared in kube_schemas.KEYS_ONLY_CHARTS, with the subcharts whose values files sit beside them; discovery keeps
their uses apart (`keys_only_chart_uses`), test_manifests.py checks their values key by key, and test_charts.py checks
that they really have no chart to render and that the role pins the version of the values files.
"""

import collections
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import jinja2
import kubernetes_validate
import yaml

import kube_schemas
import rendering
import testdata

ChartUse = collections.namedtuple("ChartUse", "role template chart")

# The IngressClass every Ingress of the collection names (interface contract: ingressClassName kong).
KONG_INGRESS_CLASS = "kong"
# CloudNativePG 1.30 ships 11 CRDs, all in this group ($SHARED/crds/README.md).
CNPG_GROUP = "postgresql.cnpg.io"
CNPG_CRD_COUNT = 11
# The chart's webhook Service name is fixed (values service.name: "DO NOT CHANGE", the certificate is made for it).
CNPG_WEBHOOK_SERVICE = "cnpg-webhook-service"
# Kinds in the OpenAPI definitions that are not resources a cluster lists in its discovery.
NOT_RESOURCES = {"APIGroup", "APIGroupList", "APIResourceList", "APIVersions", "DeleteOptions", "Status", "WatchEvent"}


def discover_chart_templates():
    """Every `<chart>-values.yaml.j2` any role has, as (role, template, chart), rendered and keys-only charts alike."""
    found = []
    for role, template in rendering.discover_templates():
        match = kube_schemas.HELM_VALUES_TEMPLATE.match(Path(template).name)
        if match:
            found.append(ChartUse(role, template, match["chart"]))
    return found


def rendered_chart_uses():
    """The chart uses whose chart $SHARED/charts holds as a chart folder: test_charts.py renders these with Helm."""
    return [use for use in discover_chart_templates() if use.chart not in kube_schemas.KEYS_ONLY_CHARTS]


def keys_only_chart_uses():
    """The chart uses of kube_schemas.KEYS_ONLY_CHARTS: only default values files to check the keys against."""
    return [use for use in discover_chart_templates() if use.chart in kube_schemas.KEYS_ONLY_CHARTS]


def keys_only_version(use, inventory=None):
    """The version a role pins a keys-only chart at, its `<role>_<chart>_version` (the chart's dashes as underscores).

    The chart is installed by something else (the microk8s addon), so it is not the role's `<role>_chart_version`.
    """
    return str(setting(use.role, "%s_%s_version" % (use.role, use.chart.replace("-", "_")), inventory))


def _load_vars(path):
    """A role's defaults or vars: main.yml, or every file of a main/ folder."""
    variables = {}
    files = [path / "main.yml"] if (path / "main.yml").is_file() else sorted(path.glob("main/*.yml"))
    for file in files:
        variables.update(yaml.safe_load(file.read_text()) or {})
    return variables


def inventory_group_vars(inventory):
    """Variables of an inventory's group_vars for the groups the roles run on (all, then microk8s)."""
    variables = {}
    base = rendering.INVENTORIES_DIR / inventory / "group_vars"
    for group in ("all", "microk8s"):
        files = [base / (group + ext) for ext in (".yml", ".yaml")] + sorted((base / group).glob("*.y*ml"))
        for file in files:
            if file.is_file():
                variables.update(yaml.safe_load(file.read_text()) or {})
    return variables


REFERENCE = re.compile(r"\{\{\s*(?P<name>[a-z_][a-z0-9_]*)\s*\}\}")


def setting(role, name, inventory=None, _seen=()):
    """A role variable's value as the role sees it: defaults < inventory group_vars < vars.

    Literals, and strings whose only Jinja is `{{ other_variable }}` (kong_proxy_service is
    "{{ kong_release_name }}-gateway-proxy"): anything else needs Ansible, and the test says so instead of guessing.
    """
    role_dir = rendering.ROLES_DIR / role
    variables = _load_vars(role_dir / "defaults")
    if inventory is not None:
        variables.update(inventory_group_vars(inventory))
    variables.update(_load_vars(role_dir / "vars"))
    if name not in variables:
        raise KeyError(
            "%s is not defined in roles/%s/defaults or vars (the chart test needs it)%s"
            % (name, role, " (via %s)" % " -> ".join(_seen) if _seen else "")
        )
    value = variables[name]
    if not isinstance(value, str) or "{{" not in value:
        return value
    if name in _seen or "{%" in value or "{{" in REFERENCE.sub("", value):
        raise ValueError(
            "%s of role %s is %r: only literals and {{ other_variable }} can be read without Ansible"
            % (name, role, value)
        )
    parts = [str(setting(role, match["name"], inventory, _seen + (name,))) for match in REFERENCE.finditer(value)]
    pieces = iter(parts)
    return REFERENCE.sub(lambda _match: next(pieces), value)


def node_count_setting(role, name, inventory=None):
    """An int setting whose default follows the node count (kong_gateway_replicas: one per node, at least two).

    The inventory's value when it sets one, else the role's own default expression evaluated by Jinja, with the
    inventory's sample hosts as the microk8s group: the formula is read from defaults/main.yml, not written again here.
    """
    group_vars = inventory_group_vars(inventory) if inventory else {}
    if name in group_vars:
        return int(group_vars[name])
    hosts = list(rendering.sample_hosts(inventory or "vagrant"))
    expression = _load_vars(rendering.ROLES_DIR / role / "defaults")[name]
    return int(jinja2.Template(str(expression)).render(groups={"microk8s": hosts}, ansible_play_hosts_all=hosts))


def chart_dir(use, charts_root, inventory=None):
    """The folder requirements/test-data.yml lists for the chart at the role's `<role>_chart_version`, under
    charts_root (the test data's charts/), which must exist: the pin and the test data must agree."""
    version = setting(use.role, "%s_chart_version" % use.role, inventory)
    try:
        listed = testdata.chart_entry(use.chart, version)["path"]
    except testdata.TestDataError as exc:
        raise FileNotFoundError(
            "roles/%s pins %s_chart_version %s, but %s" % (use.role, use.role, version, exc)
        ) from exc
    folder = Path(charts_root) / Path(listed).relative_to("charts")
    if not (folder / "Chart.yaml").is_file():
        present = sorted(p.name for p in Path(charts_root).glob("%s-[0-9]*" % use.chart) if p.is_dir())
        raise FileNotFoundError(
            "roles/%s pins %s_chart_version %s, but %s does not exist (found %s): the role's pin and the charts in "
            "$SHARED/charts must agree" % (use.role, use.role, version, folder, present or "none")
        )
    declared = str((yaml.safe_load((folder / "Chart.yaml").read_text()) or {}).get("version"))
    if declared != str(version):
        raise ValueError("%s/Chart.yaml says version %s, not %s" % (folder, declared, version))
    return folder


def helm_binary():
    """$HELM, else helm on PATH (`make helm` installs the pinned one as .venv/bin/helm)."""
    helm = os.environ.get("HELM") or shutil.which("helm")
    if not helm or not os.access(helm, os.X_OK):
        raise FileNotFoundError(
            "no Helm binary (HELM=%r, none on PATH): run `make helm`, or `make manifests`" % os.environ.get("HELM")
        )
    return helm


def served_api_versions(kubernetes_version):
    """group/version/Kind of every GA resource of that Kubernetes version, from kubernetes-validate's schemas.

    A real API server lists these in its discovery and Helm puts them in .Capabilities.APIVersions; `helm template`
    only knows group/versions, so a chart testing for a kind (the kong chart's IngressClass) would render less than it
    installs.
    """
    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    definitions = schemas / ("v%s.0-local-strict" % kubernetes_version) / "_definitions.json"
    if not definitions.is_file():
        raise FileNotFoundError("kubernetes-validate has no %s" % definitions)
    found = set()
    for schema in json.loads(definitions.read_text())["$defs"].values():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if (
                re.fullmatch(r"v\d+", gvk["version"])
                and gvk["kind"] not in NOT_RESOURCES
                and not gvk["kind"].endswith("List")
            ):
                found.add("/".join(part for part in (gvk["group"], gvk["version"], gvk["kind"]) if part))
    return sorted(found)


def render_chart(folder, release, namespace, values_files, kubernetes_version, post_renderer=None, extra_env=None):
    """Documents `helm template` renders (CRDs included), for the given Kubernetes minor version; with
    `post_renderer`, piped through that program as `helm install --post-renderer` does, `extra_env` in its
    environment."""
    command = [
        helm_binary(),
        "template",
        release,
        str(folder),
        "--namespace",
        namespace,
        "--include-crds",
        "--kube-version",
        "%s.0" % kubernetes_version,
    ]
    for api_version in served_api_versions(kubernetes_version):
        command += ["--api-versions", api_version]
    for values in values_files:
        command += ["--values", str(values)]
    if post_renderer:
        command += ["--post-renderer", str(post_renderer)]
    with tempfile.TemporaryDirectory(prefix="helm-home-") as home:
        # No repositories, cache or plugins of the user's: the chart and its charts/ are all Helm gets.
        env = dict(
            os.environ,
            HELM_CACHE_HOME=home + "/cache",
            HELM_CONFIG_HOME=home + "/config",
            HELM_DATA_HOME=home + "/data",
            **(extra_env or {}),
        )
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(command), result.returncode, result.stderr[-4000:]))
    return kube_schemas.load_documents(result.stdout)


def named(documents, kind):
    """{name: object} of one kind."""
    return {d["metadata"]["name"]: d for d in documents if d.get("kind") == kind}


def _pod_spec(workload):
    return ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}


def duplicate_problems(documents):
    """Two objects with the same kind, namespace and name: the install would fail or one would silently win.

    The CRDs of Helm's crds/ folders are left out: ingress brings kong's crds/ once per alias, and Helm installs each
    one only if it does not exist yet.
    """
    counts = collections.Counter(
        (d["kind"], (d.get("metadata") or {}).get("namespace"), (d.get("metadata") or {}).get("name"))
        for d in documents
        if d.get("kind") != "CustomResourceDefinition"
    )
    return [
        "%s %s/%s is rendered %d times" % (kind, ns, name, n)
        for (kind, ns, name), n in sorted(counts.items(), key=str)
        if n > 1
    ]


def crd_problems(documents, crds):
    """Every CRD the chart installs that $SHARED/crds also has must carry the same schemas there.

    The custom resources the roles apply are validated against $SHARED/crds; that proves something only if the
    cluster gets the same definitions from the chart.
    """
    problems = []
    for name, crd in sorted(named(documents, "CustomResourceDefinition").items()):
        spec = crd["spec"]
        for version in spec["versions"]:
            ours = crds.lookup("%s/%s" % (spec["group"], version["name"]), spec["names"]["kind"])
            if ours is not None and ours["schema"] != version["schema"]["openAPIV3Schema"]:
                problems.append(
                    "CRD %s %s: the chart's schema differs from %s" % (name, version["name"], ours["source"])
                )
    return problems


def _disruptions_allowed(budget, replicas):
    """How many of `replicas` pods the PodDisruptionBudget lets a drain evict at once."""
    spec = budget.get("spec") or {}

    def count(value, round_up):
        if isinstance(value, str) and value.endswith("%"):
            exact = int(value[:-1]) * replicas / 100
            return math.ceil(exact) if round_up else math.floor(exact)
        return int(value)

    if "maxUnavailable" in spec:
        return count(spec["maxUnavailable"], round_up=True)
    if "minAvailable" in spec:
        return replicas - count(spec["minAvailable"], round_up=True)
    return replicas


def pod_label_problems(workload, expected):
    """The labels other roles select the workload's pods by (NetworkPolicies, verify.yml) are on its pod template."""
    labels = ((workload.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
    missing = {k: v for k, v in expected.items() if labels.get(k) != v}
    if missing:
        return [
            "pods of %s %s lack the labels %s (they have %s)"
            % (workload["kind"], workload["metadata"]["name"], missing, labels)
        ]
    return []


def _selects(selector, labels):
    match = (selector or {}).get("matchLabels") or {}
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def ingress_problems(documents, names, gateway_replicas):
    """What the kong role and the comments app rely on in the kong/ingress chart's output.

    names: the role's proxy_service, controller_deployment and gateway_deployment (what it waits for and reads).
    """
    problems = []
    services = named(documents, "Service")
    deployments = named(documents, "Deployment")
    proxy_name = names["proxy_service"]
    proxy = services.get(proxy_name)
    if proxy is None:
        problems.append(
            "no Service %s (the proxy the role reads its LoadBalancer IP from); Services: %s"
            % (proxy_name, sorted(services))
        )
    else:
        spec = proxy["spec"]
        if spec.get("type") != "LoadBalancer":
            problems.append("Service %s is of type %s, not LoadBalancer" % (proxy_name, spec.get("type", "ClusterIP")))
        if spec.get("externalTrafficPolicy") != "Local":
            problems.append(
                "Service %s has externalTrafficPolicy %s, not Local (rate limiting would see node "
                "addresses, not clients)" % (proxy_name, spec.get("externalTrafficPolicy", "Cluster"))
            )
        ports = sorted(port["port"] for port in spec.get("ports", []))
        if ports != [80, 443]:
            problems.append("Service %s has ports %s, not 80 and 443" % (proxy_name, ports))
    for name, service in sorted(services.items()):
        kind = service["spec"].get("type", "ClusterIP")
        if name != proxy_name and kind in ("LoadBalancer", "NodePort"):
            # The admin API and Kong Manager must never be reachable from outside the cluster.
            problems.append(
                "Service %s is of type %s: only %s may be reachable from outside" % (name, kind, proxy_name)
            )
    release = names["release_name"]
    for name, pod_name in ((names["controller_deployment"], "controller"), (names["gateway_deployment"], "gateway")):
        if name not in deployments:
            problems.append("no Deployment %s; Deployments: %s" % (name, sorted(deployments)))
        else:
            problems += pod_label_problems(
                deployments[name], {"app.kubernetes.io/name": pod_name, "app.kubernetes.io/instance": release}
            )
    gateway = deployments.get(names["gateway_deployment"])
    if gateway is not None:
        replicas = gateway["spec"].get("replicas", 1)
        if replicas != gateway_replicas:
            problems.append(
                "Deployment %s has %s replicas, the role's kong_gateway_replicas is %s"
                % (names["gateway_deployment"], replicas, gateway_replicas)
            )
        labels = gateway["spec"]["template"]["metadata"].get("labels") or {}
        budgets = [
            b for b in named(documents, "PodDisruptionBudget").values() if _selects(b["spec"].get("selector"), labels)
        ]
        if gateway_replicas >= 2 and not budgets:
            problems.append("no PodDisruptionBudget selects the gateway pods, with %d replicas" % gateway_replicas)
        for budget in budgets:
            if _disruptions_allowed(budget, gateway_replicas) < 1:
                problems.append(
                    "PodDisruptionBudget %s lets no gateway pod of %d be evicted: node drains would hang"
                    % (budget["metadata"]["name"], gateway_replicas)
                )
    if KONG_INGRESS_CLASS not in named(documents, "IngressClass"):
        problems.append("no IngressClass %s (every Ingress of the collection names it)" % KONG_INGRESS_CLASS)
    if names.get("monitor_labels"):
        problems += kong_service_monitor_problems(documents, names, names["monitor_labels"])
    if names.get("tls_secret") and gateway is not None:
        problems += kong_default_certificate_problems(gateway, names["tls_secret"], names["tls_mount"])
    return problems


def kong_default_certificate_problems(gateway, secret, mount):
    """The gateways serve the edge certificate as Kong's default one: its Secret mounted, KONG_SSL_CERT(_KEY) on it.

    Clients that send no SNI (https://<IP>, the lab's URL) get Kong's default certificate; without these the gateway
    serves Kong's own self-signed one and verify's CA check fails on the cluster.
    """
    pod = _pod_spec(gateway)
    volumes = {v.get("name"): (v.get("secret") or {}).get("secretName") for v in pod.get("volumes", [])}
    problems = []
    if secret not in volumes.values():
        return ["the gateway does not mount the edge certificate's Secret %s (volumes: %s)" % (secret, volumes)]
    proxy = [c for c in pod.get("containers", []) if c.get("name") == "proxy"]
    env = {e["name"]: e.get("value") for e in (proxy[0].get("env", []) if proxy else [])}
    mounts = {m.get("mountPath") for m in (proxy[0].get("volumeMounts", []) if proxy else [])}
    for name, file in (("KONG_SSL_CERT", "tls.crt"), ("KONG_SSL_CERT_KEY", "tls.key")):
        if env.get(name) != "%s/%s" % (mount, file):
            problems.append("%s is %r in the proxy container, not %s/%s" % (name, env.get(name), mount, file))
    if mount not in mounts:
        problems.append("the proxy container does not mount %s (mounts: %s)" % (mount, sorted(m for m in mounts if m)))
    return problems


def kong_service_monitor_problems(documents, names, labels):
    """The chart's ServiceMonitor for the gateways, which Prometheus must select and which must reach their metrics.

    In Kong's namespace (an object without one would land wherever Helm's kubeconfig points), carrying the monitor
    labels of the observability role, selecting the proxy Service, and scraping the gateway container's status port
    (where the global prometheus plugin serves /metrics).
    """
    monitors = [
        d
        for d in documents
        if d.get("kind") == "ServiceMonitor" and d["metadata"]["name"] == names["gateway_deployment"]
    ]
    if len(monitors) != 1:
        return [
            "no ServiceMonitor %s, with kong_service_monitor_labels %s (ServiceMonitors: %s)"
            % (names["gateway_deployment"], labels, sorted(named(documents, "ServiceMonitor")))
        ]
    monitor, problems = monitors[0], []
    if monitor["metadata"].get("namespace") != names["namespace"]:
        problems.append(
            "ServiceMonitor %s is in namespace %s, not %s"
            % (names["gateway_deployment"], monitor["metadata"].get("namespace"), names["namespace"])
        )
    have = monitor["metadata"].get("labels") or {}
    missing = {k: v for k, v in labels.items() if have.get(k) != v}
    if missing:
        problems.append(
            "ServiceMonitor %s lacks the monitor labels %s, which Prometheus selects by"
            % (names["gateway_deployment"], missing)
        )
    spec = monitor["spec"]
    proxy = named(documents, "Service").get(names["proxy_service"])
    if proxy is None or not _selects(spec.get("selector"), proxy["metadata"].get("labels") or {}):
        problems.append(
            "ServiceMonitor %s does not select the proxy Service %s"
            % (names["gateway_deployment"], names["proxy_service"])
        )
    if (spec.get("namespaceSelector") or {}).get("matchNames") != [names["namespace"]]:
        problems.append(
            "ServiceMonitor %s does not look in namespace %s only" % (names["gateway_deployment"], names["namespace"])
        )
    # Kong's metrics carry their own `service` label (the Kong service); without honorLabels the operator's target
    # label `service` (the proxy Service) replaces it and Kong's becomes `exported_service`, which the Gateway
    # dashboard and the 5xx alert do not read.
    if not all(endpoint.get("honorLabels") for endpoint in spec.get("endpoints", [])):
        problems.append(
            "ServiceMonitor %s does not honour the scraped labels (honorLabels): Kong's per-service `service` label "
            "would become exported_service" % names["gateway_deployment"]
        )
    gateway = named(documents, "Deployment").get(names["gateway_deployment"])
    ports = {
        port.get("name")
        for container in (_pod_spec(gateway).get("containers", []) if gateway else [])
        for port in container.get("ports", [])
    }
    scraped = [endpoint.get("targetPort") or endpoint.get("port") for endpoint in spec.get("endpoints", [])]
    if "status" not in scraped or "status" not in ports:
        problems.append(
            "ServiceMonitor %s scrapes %s, the gateway pods have the ports %s: the status port must be both"
            % (names["gateway_deployment"], scraped, sorted(p for p in ports if p))
        )
    return problems


def cloudnative_pg_problems(documents, operator, webhook, operator_labels, crds):
    """What the cloudnative_pg and comments_app roles rely on in the cloudnative-pg chart's output."""
    problems = []
    if operator in named(documents, "Deployment"):
        problems += pod_label_problems(named(documents, "Deployment")[operator], operator_labels)
    if webhook not in named(documents, "Service"):
        problems.append("no Service %s (the operator's webhook the role waits for)" % webhook)
    if operator not in named(documents, "Deployment"):
        problems.append(
            "no Deployment %s (the operator the role waits for); Deployments: %s"
            % (operator, sorted(named(documents, "Deployment")))
        )
    rendered = {
        (d["spec"]["group"], d["spec"]["names"]["kind"])
        for d in named(documents, "CustomResourceDefinition").values()
        if d["spec"]["group"] == CNPG_GROUP
    }
    expected = {(group, kind) for group, _version, kind in crds.versions if group == CNPG_GROUP}
    if len(rendered) != CNPG_CRD_COUNT or rendered != expected:
        problems.append(
            "the chart renders %d %s CRDs (%s), expected the %d of $SHARED/crds (%s)"
            % (
                len(rendered),
                CNPG_GROUP,
                sorted(k for _g, k in rendered),
                len(expected),
                sorted(k for _g, k in expected),
            )
        )
    return problems


def metallb_problems(documents, controller, speaker):
    """What the metallb role waits for in the metallb chart's output, and no FRR (the role announces over L2)."""
    problems = []
    if controller not in named(documents, "Deployment"):
        problems.append("no Deployment %s (metallb_controller_deployment, which the role waits for)" % controller)
    if speaker not in named(documents, "DaemonSet"):
        problems.append("no DaemonSet %s (metallb_speaker_daemonset, which the role waits for)" % speaker)
    for document in documents:
        pod = _pod_spec(document)
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            if "frr" in container["name"].lower() or "frr" in container.get("image", "").lower():
                problems.append(
                    "%s %s runs the FRR container %s"
                    % (document["kind"], document["metadata"]["name"], container["name"])
                )
    return problems


def cert_manager_problems(documents, deployments, namespace, crds):
    """What the cert_manager role waits for and relies on in the cert-manager chart's output.

    Its three Deployments in its namespace; the webhook configurations (the role's dry-run Issuer goes through them);
    the six cert-manager CRDs, the same kinds as $SHARED/crds/cert-manager, kept by Helm on uninstall (crds.keep:
    removing them would delete every Certificate); and no startupapicheck hook Job (the role waits itself).
    """
    problems = []
    rendered = named(documents, "Deployment")
    for name in deployments:
        if name not in rendered:
            problems.append("no Deployment %s (the role waits for it); Deployments: %s" % (name, sorted(rendered)))
        elif rendered[name]["metadata"].get("namespace") != namespace:
            problems.append(
                "Deployment %s is in namespace %s, not %s"
                % (name, rendered[name]["metadata"].get("namespace"), namespace)
            )
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        if not named(documents, kind):
            problems.append("no %s (the webhook every Issuer and Certificate goes through)" % kind)
    definitions = named(documents, "CustomResourceDefinition")
    groups = {"cert-manager.io", "acme.cert-manager.io"}
    ours = {
        (d["spec"]["group"], d["spec"]["names"]["kind"]) for d in definitions.values() if d["spec"]["group"] in groups
    }
    expected = {(group, kind) for group, _version, kind in crds.versions if group in groups}
    if ours != expected:
        problems.append(
            "the chart renders the cert-manager CRDs %s, expected the %d of $SHARED/crds (%s)"
            % (sorted(k for _g, k in ours), len(expected), sorted(k for _g, k in expected))
        )
    for name, definition in sorted(definitions.items()):
        if (definition["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") != "keep":
            problems.append("CRD %s lacks helm.sh/resource-policy: keep (crds.keep)" % name)
    jobs = sorted(named(documents, "Job"))
    if jobs:
        problems.append("the chart renders the Jobs %s (startupapicheck is the role's own wait)" % jobs)
    return problems


def barman_cloud_problems(documents, names, crds):
    """What the barman_cloud role waits for, and what the operator registers the plugin by, in the plugin's chart.

    The operator finds a plugin by a Service in its own namespace labelled cnpg.io/pluginName, and connects to the port
    of its cnpg.io/pluginPort annotation with the client certificate of cnpg.io/pluginClientSecret, checking the server
    against cnpg.io/pluginServerSecret. Those two Secrets are the chart's cert-manager Certificates'; their Issuer must
    be the chart's own. The ObjectStore CRD must be the one $SHARED/crds holds (the backups role's store is validated
    against it), kept on uninstall.
    """
    problems = []
    namespace = names["namespace"]
    deployments = named(documents, "Deployment")
    if names["deployment"] not in deployments:
        problems.append(
            "no Deployment %s (the role waits for it); Deployments: %s" % (names["deployment"], sorted(deployments))
        )
    service = named(documents, "Service").get(names["service"])
    certificates = named(documents, "Certificate")
    if service is None:
        problems.append("no Service %s (the operator registers the plugin from it)" % names["service"])
    else:
        labels = service["metadata"].get("labels") or {}
        annotations = service["metadata"].get("annotations") or {}
        if labels.get("cnpg.io/pluginName") != names["plugin_name"]:
            problems.append(
                "Service %s has cnpg.io/pluginName %r, not %s"
                % (names["service"], labels.get("cnpg.io/pluginName"), names["plugin_name"])
            )
        if service["metadata"].get("namespace") != namespace:
            problems.append(
                "Service %s is in namespace %s, not the operator's %s"
                % (names["service"], service["metadata"].get("namespace"), namespace)
            )
        if annotations.get("cnpg.io/pluginPort") != str(names["port"]) or names["port"] not in [
            p.get("port") for p in service["spec"].get("ports", [])
        ]:
            problems.append(
                "Service %s: cnpg.io/pluginPort %r and its ports must both be %s"
                % (names["service"], annotations.get("cnpg.io/pluginPort"), names["port"])
            )
        secrets = {c["spec"]["secretName"]: c for c in certificates.values()}
        for annotation in ("cnpg.io/pluginServerSecret", "cnpg.io/pluginClientSecret"):
            if annotations.get(annotation) not in secrets:
                problems.append(
                    "Service %s: %s %r is no Certificate's Secret (Certificates' Secrets: %s)"
                    % (names["service"], annotation, annotations.get(annotation), sorted(secrets))
                )
        server = secrets.get(annotations.get("cnpg.io/pluginServerSecret"))
        if server is not None and names["service"] not in server["spec"].get("dnsNames", []):
            problems.append(
                "the server Certificate %s is not for the Service name %s (dnsNames %s)"
                % (server["metadata"]["name"], names["service"], server["spec"].get("dnsNames"))
            )
    if sorted(certificates) != sorted(names["certificates"]):
        problems.append(
            "the chart renders the Certificates %s, the role waits for %s"
            % (sorted(certificates), sorted(names["certificates"]))
        )
    issuers = named(documents, "Issuer")
    for name, certificate in sorted(certificates.items()):
        reference = certificate["spec"].get("issuerRef") or {}
        if reference.get("kind") != "Issuer" or reference.get("name") not in issuers:
            problems.append(
                "Certificate %s is issued by %s, not by the chart's Issuer (%s)" % (name, reference, sorted(issuers))
            )
    definitions = named(documents, "CustomResourceDefinition")
    rendered = {(d["spec"]["group"], d["spec"]["names"]["kind"]) for d in definitions.values()}
    expected = {(group, kind) for group, _version, kind in crds.versions if group == "barmancloud.cnpg.io"}
    if rendered != expected or sorted(definitions) != sorted(names["crds"]):
        problems.append(
            "the chart renders the CRDs %s, expected %s (as in $SHARED/crds: %s)"
            % (sorted(definitions), sorted(names["crds"]), sorted(k for _g, k in expected))
        )
    for name, definition in sorted(definitions.items()):
        if (definition["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") != "keep":
            problems.append("CRD %s lacks helm.sh/resource-policy: keep (the role's reset removes it itself)" % name)
    return problems


def garage_problems(documents, names):
    """What the garage role runs its CLI in and the backups reach, in Garage's chart with the role's values.

    The StatefulSet whose first pod the role execs `garage json-api` in (container garage, pods labelled as the role's
    NetworkPolicies select them, started all at once, the readiness probe on /health), its volumes of the role's sizes
    on the role's StorageClass, the S3 Service on the port of the endpoint the backups use, and the replication factor
    in garage.toml.
    """
    problems = []
    workload = named(documents, "StatefulSet").get(names["statefulset"])
    if workload is None:
        return [
            "no StatefulSet %s (the role execs Garage's CLI in its pod 0); StatefulSets: %s"
            % (names["statefulset"], sorted(named(documents, "StatefulSet")))
        ]
    spec = workload["spec"]
    if spec.get("replicas") != names["replicas"]:
        problems.append(
            "StatefulSet %s has %s replicas, the role's garage_replicas is %s"
            % (names["statefulset"], spec.get("replicas"), names["replicas"])
        )
    if spec.get("podManagementPolicy") != "Parallel":
        problems.append(
            "StatefulSet %s starts its pods %s: with the /health readiness probe, pod 1 would wait for a layout that "
            "needs it" % (names["statefulset"], spec.get("podManagementPolicy"))
        )
    problems += pod_label_problems(workload, names["pod_labels"])
    containers = {c["name"]: c for c in _pod_spec(workload).get("containers", [])}
    garage = containers.get(names["container"])
    if garage is None:
        problems.append(
            "no container %s in StatefulSet %s (the role execs into it)" % (names["container"], names["statefulset"])
        )
    else:
        if garage["image"] != names["image"]:
            problems.append("container %s runs %s, not %s" % (names["container"], garage["image"], names["image"]))
        probe = (garage.get("readinessProbe") or {}).get("httpGet") or {}
        if probe.get("path") != "/health" or probe.get("port") != names["admin_port"]:
            problems.append(
                "container %s's readiness probe is %s, not GET /health on %s"
                % (names["container"], probe, names["admin_port"])
            )
    claims = {c["metadata"]["name"]: c["spec"] for c in spec.get("volumeClaimTemplates", [])}
    for claim, size in (("data", names["data_size"]), ("meta", names["meta_size"])):
        got = claims.get(claim)
        if got is None:
            problems.append(
                "StatefulSet %s has no volume claim %s (volumes: %s)" % (names["statefulset"], claim, sorted(claims))
            )
            continue
        if got["resources"]["requests"]["storage"] != size or got.get("storageClassName") != names["storage_class"]:
            problems.append(
                "volume claim %s asks %s of %s, the role says %s of %s"
                % (
                    claim,
                    got["resources"]["requests"]["storage"],
                    got.get("storageClassName"),
                    size,
                    names["storage_class"],
                )
            )
    service = named(documents, "Service").get(names["service"])
    if service is None or names["s3_port"] not in [p.get("port") for p in service["spec"].get("ports", [])]:
        problems.append(
            "no Service %s with the S3 port %s (the backups' endpoint)" % (names["service"], names["s3_port"])
        )
    config = "\n".join(d.get("data", {}).get("garage.toml", "") for d in named(documents, "ConfigMap").values())
    if "replication_factor = %s" % names["replication_factor"] not in config:
        problems.append("garage.toml does not set replication_factor = %s" % names["replication_factor"])
    return problems


# The names other roles and verify.yml use (interface contract), which the roles' own variables must give.
CONTRACT_NAMES = {
    "kong": {
        "kong_proxy_service": "kong-gateway-proxy",
        "kong_controller_deployment": "kong-controller",
        "kong_gateway_deployment": "kong-gateway",
        "kong_namespace": "kong",
        "kong_release_name": "kong",
    },
    "cloudnative_pg": {
        "cloudnative_pg_operator_deployment": "cnpg-cloudnative-pg",
        "cloudnative_pg_webhook_service": CNPG_WEBHOOK_SERVICE,
        "cloudnative_pg_namespace": "cnpg-system",
        "cloudnative_pg_operator_labels": {
            "app.kubernetes.io/name": "cloudnative-pg",
            "app.kubernetes.io/instance": "cnpg",
        },
    },
    # Issue 8's contract: the addon's namespace, release and chart version, the labels the monitors carry and the
    # OTLP endpoint the app is given.
    "observability": {
        "observability_namespace": "observability",
        "observability_kube_prometheus_stack_release": "kube-prom-stack",
        "observability_kube_prometheus_stack_version": "77.6.2",
        "observability_loki_stack_version": "2.10.3",
        "observability_tempo_version": "1.24.1",
        "observability_monitor_labels": {"release": "kube-prom-stack"},
        "observability_otlp_endpoint": "http://tempo.observability.svc:4318",
    },
    # Issue 16's contract (and issue 17's, which uses the same cert-manager): namespace, release, Deployments.
    "cert_manager": {
        "cert_manager_namespace": "cert-manager",
        "cert_manager_release_name": "cert-manager",
        "cert_manager_deployments": ["cert-manager", "cert-manager-cainjector", "cert-manager-webhook"],
    },
    # Issue 17's contract: the plugin next to the operator, the names it is registered by; Garage's S3 endpoint and key.
    "barman_cloud": {
        "barman_cloud_namespace": "cnpg-system",
        "barman_cloud_service": "barman-cloud",
        "barman_cloud_plugin_name": "barman-cloud.cloudnative-pg.io",
    },
    "garage": {
        "garage_namespace": "garage",
        "garage_s3_endpoint": "http://garage.garage.svc:3900",
        "garage_key_secret": "garage-backups-key",
        "garage_s3_region": "garage",
    },
    "metallb": {
        "metallb_namespace": "metallb-system",
        "metallb_controller_deployment": "metallb-controller",
        "metallb_speaker_daemonset": "metallb-speaker",
    },
}


def role_problems(use, documents, inventory, crds):
    """The role-specific promises of one chart, for one inventory, with the names the role itself waits for."""
    if use.chart == "ingress":
        names = {
            key: setting(use.role, "kong_" + key, inventory)
            for key in ("proxy_service", "controller_deployment", "gateway_deployment", "release_name", "namespace")
        }
        # kong_service_monitor_labels defaults to the observability role's fact: that role's labels, unless the
        # inventory sets the kong variable itself.
        names["monitor_labels"] = (inventory_group_vars(inventory) if inventory else {}).get(
            "kong_service_monitor_labels", setting("observability", "observability_monitor_labels", inventory)
        )
        # The edge certificate is Kong's default one unless it comes from ACME (cert_manager_acme_enabled: a literal,
        # or, as in inventories/gcp, true exactly when the inventory gives a DNS name).
        group_vars = inventory_group_vars(inventory) if inventory else {}
        acme = group_vars.get("cert_manager_acme_enabled", False)
        if isinstance(acme, str) and "{{" in acme:
            acme = bool(group_vars.get("cert_manager_edge_dns_name"))
        if not acme:
            names["tls_secret"] = setting(use.role, "kong_tls_secret", inventory)
            names["tls_mount"] = setting(use.role, "kong_tls_mount", inventory)
        return ingress_problems(documents, names, node_count_setting(use.role, "kong_gateway_replicas", inventory))
    if use.chart == "cloudnative-pg":
        return cloudnative_pg_problems(
            documents,
            setting(use.role, "cloudnative_pg_operator_deployment", inventory),
            setting(use.role, "cloudnative_pg_webhook_service", inventory),
            setting(use.role, "cloudnative_pg_operator_labels", inventory),
            crds,
        )
    if use.chart == "cert-manager":
        return cert_manager_problems(
            documents,
            setting(use.role, "cert_manager_deployments", inventory),
            setting(use.role, "cert_manager_namespace", inventory),
            crds,
        )
    if use.chart == "plugin-barman-cloud":
        names = {
            key: setting(use.role, "barman_cloud_" + key, inventory)
            for key in ("namespace", "deployment", "service", "plugin_name", "certificates", "crds")
        }
        names["port"] = setting(use.role, "barman_cloud_plugin_port", inventory)
        return barman_cloud_problems(documents, names, crds)
    if use.chart == "garage":
        names = {
            key: setting(use.role, "garage_" + key, inventory)
            for key in (
                "statefulset",
                "container",
                "pod_labels",
                "replicas",
                "data_size",
                "meta_size",
                "storage_class",
                "s3_port",
                "admin_port",
                "replication_factor",
            )
        }
        names["service"] = setting(use.role, "garage_release_name", inventory)
        names["image"] = "%s:%s" % (
            setting(use.role, "garage_image_repository", inventory),
            setting(use.role, "garage_image_tag", inventory),
        )
        return garage_problems(documents, names)
    if use.chart == "metallb":
        return metallb_problems(
            documents,
            setting(use.role, "metallb_controller_deployment", inventory),
            setting(use.role, "metallb_speaker_daemonset", inventory),
        )
    return [
        "no assertions for chart %s of role %s: add what the role relies on to charts.role_problems"
        % (use.chart, use.role)
    ]
