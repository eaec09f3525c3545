# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of rendered Kubernetes objects and Helm values against upstream schemas.

Standard kinds go to kubernetes-validate (strict: unknown fields are errors). Custom resources go to the
openAPIV3Schema of the matching CRD version found under $SHARED/crds, tightened the way the API server's strict
field validation reads it. Helm values go against the chart's own default values.yaml, and keys meant for a
subchart (an aliased dependency) against that subchart's.
Every function returns a list of problems (empty when valid) so a test can show all of them at once.
"""

import copy
import re
import tarfile
import tempfile
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions, major_minor

# libyaml's safe loader when PyYAML has it: the CRDs and chart renders are megabytes, ten times faster to parse.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def supported_kubernetes_versions():
    """Kubernetes minor versions kubernetes-validate has schemas for."""
    return sorted({major_minor(version) for version in all_versions()}, key=lambda v: tuple(map(int, v.split("."))))


def require_supported_version(version):
    """Fail loudly instead of letting kubernetes-validate fall back to an older schema set."""
    if version not in supported_kubernetes_versions():
        raise ValueError(
            "kubernetes-validate %s has no schemas for Kubernetes %s (it knows %s); pin a newer kubernetes-validate"
            % (kubernetes_validate.version.__version__, version, ", ".join(supported_kubernetes_versions()))
        )


def _describe(error):
    location = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return "%s: %s" % (location, error.message)


class CrdIndex:
    """Served versions of every CustomResourceDefinition in a folder tree, by (group, version, kind)."""

    def __init__(self, crd_root):
        self.root = Path(crd_root)
        self.versions = {}
        for path in sorted(self.root.rglob("*.yaml")):
            for document in yaml.load_all(path.read_text(), Loader=SAFE_LOADER):
                if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
                    continue
                spec = document["spec"]
                for version in spec["versions"]:
                    key = (spec["group"], version["name"], spec["names"]["kind"])
                    self.versions[key] = {
                        "schema": version["schema"]["openAPIV3Schema"],
                        "served": version.get("served", False),
                        "scope": spec["scope"],
                        "source": path,
                    }
        if not self.versions:
            raise ValueError("no CustomResourceDefinition found under %s" % self.root)

    def groups(self):
        return {key[0] for key in self.versions}

    def lookup(self, api_version, kind):
        group, version = api_version.rsplit("/", 1) if "/" in api_version else ("", api_version)
        return self.versions.get((group, version, kind))


def strict_crd_schema(schema):
    """Return a JSON Schema that rejects what the API server's strict field validation rejects.

    Structural CRD schemas leave `additionalProperties` unset and rely on pruning; with strict validation the API
    server reports those fields instead, so objects with `properties` get `additionalProperties: false` unless the
    schema says `x-kubernetes-preserve-unknown-fields`. `x-kubernetes-int-or-string` and `nullable` become the JSON
    Schema they stand for. CEL rules (`x-kubernetes-validations`) are not evaluated here.
    """
    node = copy.deepcopy(schema)
    _tighten(node)
    return node


def _tighten(node):
    if not isinstance(node, dict):
        return
    for key in ("properties", "patternProperties"):
        for child in node.get(key, {}).values():
            _tighten(child)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            _tighten(node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        for child in node.get(key, []):
            _tighten(child)
    if node.pop("x-kubernetes-int-or-string", False):
        node.pop("type", None)
        node.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if "pattern" in node:
        node["pattern"] = python_pattern(node["pattern"])
    if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
    if node.pop("nullable", False) and "type" in node:
        node["type"] = [node["type"], "null"]


INLINE_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")


def python_pattern(pattern):
    """A CRD pattern (Go RE2) as Python reads it: RE2 allows inline flags like `^(?i)` anywhere, Python only first."""
    try:
        re.compile(pattern)
        return pattern
    except re.error:
        moved = "".join(INLINE_FLAGS.findall(pattern)) + INLINE_FLAGS.sub("", pattern)
        re.compile(moved)
        return moved


def validate_standard(document, kubernetes_version):
    """Problems kubernetes-validate --strict finds in a standard-kind object."""
    try:
        kubernetes_validate.validate(document, kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [_describe(exc)]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [exc.message + " (and no CRD under $SHARED/crds defines it)"]
    return []


def validate_custom(document, crd, kubernetes_version):
    """Problems in a custom resource: CRD schema (strict), served version, and its ObjectMeta."""
    problems = []
    if not crd["served"]:
        problems.append("%s is not a served version in %s" % (document["apiVersion"], crd["source"].name))
    validator = jsonschema.Draft4Validator(strict_crd_schema(crd["schema"]))
    problems.extend(_describe(error) for error in sorted(validator.iter_errors(document), key=str))
    metadata = document.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        problems.append("metadata.name is missing")
    elif crd["scope"] == "Namespaced" and not metadata.get("namespace"):
        # Without it the object lands in whatever namespace the kubeconfig defaults to, where the operator
        # (MetalLB watches metallb-system only) never sees it.
        problems.append("metadata.namespace is missing for a namespaced custom resource")
    if isinstance(metadata, dict):
        # CRD schemas say only `metadata: {type: object}`; check it as the ObjectMeta the API server expects.
        carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
        problems.extend("metadata " + p for p in validate_standard(carrier, kubernetes_version))
    return problems


def validate_manifest_documents(documents, crds, kubernetes_version):
    """Problems in a list of Kubernetes objects, each prefixed with the object it concerns."""
    if not documents:
        return ["the template rendered no Kubernetes object"]
    problems = []
    for position, document in enumerate(documents, start=1):
        if not isinstance(document, dict) or not document.get("apiVersion") or not document.get("kind"):
            problems.append("document %d is not a Kubernetes object (no apiVersion/kind)" % position)
            continue
        name = "%s %s" % (document["kind"], (document.get("metadata") or {}).get("name", "?"))
        crd = crds.lookup(document["apiVersion"], document["kind"])
        group = document["apiVersion"].rpartition("/")[0]
        if crd is not None:
            found = validate_custom(document, crd, kubernetes_version)
        elif group in crds.groups():
            found = ["%s is not a version/kind that the CRDs of group %s define" % (document["apiVersion"], group)]
        else:
            found = validate_standard(document, kubernetes_version)
        problems.extend("%s: %s" % (name, problem) for problem in found)
    return problems


def load_documents(text):
    """YAML documents of a rendered template, without the empty ones a leading '---' produces."""
    return [document for document in yaml.load_all(text, Loader=SAFE_LOADER) if document is not None]


# Chart values that upstream leaves empty are free-form maps (annotations, nodeSelector, env ...).
def unknown_values_keys(values, upstream, path=""):
    """Keys set in a values file that the chart's default values.yaml does not have, as dotted paths."""
    problems = []
    if not isinstance(values, dict):
        return problems
    for key, value in values.items():
        where = "%s.%s" % (path, key) if path else str(key)
        if key not in upstream:
            problems.append("%s is not a key of the chart's values" % where)
            continue
        reference = upstream[key]
        if isinstance(value, dict) and isinstance(reference, dict) and reference:
            problems.extend(unknown_values_keys(value, reference, where))
        elif isinstance(value, dict) and reference not in (None, {}) and not isinstance(reference, dict):
            problems.append("%s is a map here but a %s in the chart" % (where, type(reference).__name__))
    return problems


HELM_VALUES_TEMPLATE = re.compile(r"^(?P<chart>[a-z0-9-]+?)-values\.ya?ml\.j2$")


def chart_values_file(template_name, charts_root):
    """The upstream values a `<chart>-values.yaml.j2` template is checked against (exactly one version must exist).

    A chart folder `<chart>-<version>/` wins over a loose `*/<chart>-<version>-values.yaml` of the same version: its
    values.yaml comes with the Chart.yaml and charts/ that the key check needs to follow the chart's dependencies.
    """
    match = HELM_VALUES_TEMPLATE.match(template_name)
    if not match:
        raise ValueError("%s is not named <chart>-values.yaml.j2" % template_name)
    chart, root = match["chart"], Path(charts_root)
    # cert-manager's versions start with a v (cert-manager-v1.21.1/).
    version_of = re.compile(r"^%s-(?P<version>v?[0-9][^/]*?)(-values\.yaml)?$" % re.escape(chart))
    candidates = sorted(
        set(root.glob("%s-[0-9]*/values.yaml" % chart)) | set(root.glob("%s-v[0-9]*/values.yaml" % chart))
    ) + sorted(root.glob("*/%s-[0-9]*-values.yaml" % chart))
    by_version = {}
    for candidate in candidates:
        name = candidate.parent.name if candidate.name == "values.yaml" else candidate.name
        found = version_of.match(name)
        if found:
            by_version.setdefault(found["version"], candidate)
    if len(by_version) != 1:
        raise ValueError(
            "expected exactly one version of chart %s (%s-<version>/values.yaml or */%s-<version>-values.yaml) "
            "under %s, found %s" % (chart, chart, chart, charts_root, sorted(by_version) or "none")
        )
    return next(iter(by_version.values()))


# Keys a chart reads although its values.yaml names them nowhere, not even in a comment, by chart name (Chart.yaml).
UNLISTED_VALUES = {
    # templates/_helpers.tpl "kong.service" renders every service block, and writes its .externalTrafficPolicy.
    # templates/_helpers.tpl "kong.env" turns every key of `env` into KONG_<KEY>; ssl_cert and ssl_cert_key are Kong's
    # default certificate (kong.conf), which the kong role points at the edge certificate's Secret.
    "kong": {"proxy": {"externalTrafficPolicy": None}, "env": {"ssl_cert": None, "ssl_cert_key": None}},
    # templates/configmap.yaml writes every section and key of `grafana.ini` into Grafana's own grafana.ini; the
    # chart lists a few. serve_from_sub_path is Grafana's [server] setting (Grafana's "Configure Grafana" docs).
    "grafana": {"grafana.ini": {"server": {"serve_from_sub_path": None}}},
}

# Maps a chart documents only with a commented example (`# labels:` then `#   foo: bar`), but renders as they are
# (toYaml), so any key goes under them: without this, the example's key would be taken for the only one allowed.
FREE_FORM_VALUES = {
    # templates/servicemonitor.yaml: `{{ toYaml .Values.serviceMonitor.labels }}` under the ServiceMonitor's labels.
    "kong": [("serviceMonitor", "labels")],
}

# Charts that $SHARED/charts holds only as default values files (`<chart>-<version>-values.yaml`), not as charts: no
# Chart.yaml, no templates, nothing Helm can render. Their values templates are checked key by key only
# (tests/manifests test_charts.py renders every other chart). For each version, the subcharts its Chart.yaml declares
# whose values file sits beside it: the keys under that alias are checked against the subchart's values, with the
# parent's defaults for it laid over, as for a chart folder's packaged dependencies. A subchart without a values file
# there (kube-state-metrics ...) is checked against the parent's defaults for it only.
KEYS_ONLY_CHARTS = {
    "kube-prometheus-stack": {
        # kube-prometheus-stack 77.6.2's Chart.yaml: dependency grafana 9.4.5 (condition grafana.enabled, on by
        # default).
        "77.6.2": {"grafana": ("grafana", "9.4.5")},
    },
}

VALUES_LINE = re.compile(r"^(?P<indent> *)(?P<comment># ?)?(?P<inner> *)(?P<key>[A-Za-z_][A-Za-z0-9_.-]*):(\s|$)")


def commented_keys(text):
    """Keys a values.yaml documents only as comments (`  # maxUnavailable: "50%"`), as a tree of their own.

    Upstream charts list optional keys commented out at the place they go; the indentation after the `#` says where.
    """
    tree, stack = {}, []  # stack: (indentation, node) of the keys the current line may sit under
    for line in text.splitlines():
        match = VALUES_LINE.match(line)
        if not match:
            continue
        indentation = len(match["indent"]) + len(match["inner"])
        while stack and stack[-1][0] >= indentation:
            stack.pop()
        parent = stack[-1][1] if stack else tree
        node = parent.setdefault(match["key"], {})
        stack.append((indentation, node))
    return tree


def _add_missing(reference, extra):
    """reference with the keys of extra it lacks (documented-in-comment keys never replace real ones)."""
    for key, value in extra.items():
        if key not in reference:
            reference[key] = value or None
        elif isinstance(reference[key], dict) and reference[key] and isinstance(value, dict):
            _add_missing(reference[key], value)
    return reference


def documented_values(text, chart_name=None):
    """The defaults of a values.yaml, plus the keys it documents in comments and the chart's UNLISTED_VALUES.

    The chart's FREE_FORM_VALUES become empty maps, which take any key.
    """
    values = yaml.safe_load(text) or {}
    if not isinstance(values, dict):
        return values
    _add_missing(values, commented_keys(text))
    _add_missing(values, copy.deepcopy(UNLISTED_VALUES.get(chart_name, {})))
    for path in FREE_FORM_VALUES.get(chart_name, []):
        node = values
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = {}
    return values


LOOSE_VALUES_FILE = re.compile(r"^(?P<chart>[a-z0-9-]+?)-(?P<version>[0-9][^/]*?)-values\.yaml$")


def keys_only_values_tree(upstream_path):
    """The defaults of a keys-only chart's loose values file, with its subcharts' values under their aliases.

    The chart and its version come from the file name (`kube-prometheus-stack-77.6.2-values.yaml`); a chart or version
    that KEYS_ONLY_CHARTS does not declare is an error, as is a declared subchart whose values file is missing.
    """
    upstream_path = Path(upstream_path)
    name = LOOSE_VALUES_FILE.match(upstream_path.name)
    if not name or name["version"] not in KEYS_ONLY_CHARTS.get(name["chart"], {}):
        raise ValueError(
            "%s is not the values file of a chart version that KEYS_ONLY_CHARTS declares (%s)"
            % (upstream_path.name, {chart: sorted(versions) for chart, versions in KEYS_ONLY_CHARTS.items()})
        )
    values = documented_values(upstream_path.read_text(), name["chart"])
    for alias, (subchart, version) in KEYS_ONLY_CHARTS[name["chart"]][name["version"]].items():
        sub_path = upstream_path.with_name("%s-%s-values.yaml" % (subchart, version))
        if not sub_path.is_file():
            raise ValueError(
                "%s %s declares the subchart %s %s, but %s is missing"
                % (name["chart"], name["version"], subchart, version, sub_path)
            )
        values[alias] = _merge_reference(documented_values(sub_path.read_text(), subchart), values.get(alias) or {})
    return values


def _merge_reference(base, override):
    """base (a subchart's defaults) with the parent's values for it laid over; an empty map stays free-form."""
    merged = dict(base)
    for key, value in override.items():
        if key in base and base[key] in (None, {}):
            continue
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merge_reference(base[key], value)
        else:
            merged[key] = value
    return merged


def _subchart_dir(chart_dir, position, dependency, unpack_root):
    """The folder of a dependency: charts/<name>/ as shipped, or charts/<name>-<version>.tgz unpacked."""
    lock_path = chart_dir / "Chart.lock"
    locked = []
    if lock_path.is_file():
        locked = (yaml.safe_load(lock_path.read_text()) or {}).get("dependencies") or []
    version = str(dependency.get("version", "")).lstrip("=v")
    if position < len(locked) and locked[position].get("name") == dependency["name"]:
        version = str(locked[position]["version"])
    unpacked = chart_dir / "charts" / dependency["name"]
    if (unpacked / "Chart.yaml").is_file():
        return unpacked
    archive = chart_dir / "charts" / ("%s-%s.tgz" % (dependency["name"], version))
    if not archive.is_file():
        raise ValueError(
            "%s depends on %s %s but has neither charts/%s/ nor charts/%s"
            % (chart_dir, dependency["name"], version, dependency["name"], archive.name)
        )
    target = Path(tempfile.mkdtemp(dir=unpack_root))
    with tarfile.open(archive) as packed:
        packed.extractall(target, filter="data")
    return target / dependency["name"]


def _chart_values_tree(chart_dir, unpack_root):
    chart_dir = Path(chart_dir)
    metadata = yaml.safe_load((chart_dir / "Chart.yaml").read_text()) or {}
    values_path = chart_dir / "values.yaml"  # optional: metallb's crds subchart has none
    values = documented_values(values_path.read_text() if values_path.is_file() else "", metadata.get("name"))
    for position, dependency in enumerate(metadata.get("dependencies") or []):
        key = dependency.get("alias") or dependency["name"]
        subchart = _chart_values_tree(_subchart_dir(chart_dir, position, dependency, unpack_root), unpack_root)
        values[key] = _merge_reference(subchart, values.get(key) or {})
    return values


def chart_values_tree(chart_dir):
    """A chart's default values with, under each dependency's alias (or name), that subchart's own values.

    Helm hands the values under `controller:` to the subchart aliased `controller`, so those keys are checked against
    the subchart's values.yaml (read from the packaged charts/<name>-<version>.tgz), with the parent's defaults for
    it laid over, recursively.
    """
    with tempfile.TemporaryDirectory(prefix="chart-values-") as unpack_root:
        return _chart_values_tree(chart_dir, unpack_root)


def validate_helm_values(text, upstream_path):
    """Problems in rendered Helm values: must be a map whose keys all exist in the chart's values.

    upstream_path is a loose values file, or the values.yaml of a chart folder, whose dependencies are followed; a
    keys-only chart's loose file (KEYS_ONLY_CHARTS) brings the values files of its declared subcharts.
    A key counts as existing when values.yaml sets it, or lists it commented out at that place.
    """
    values = yaml.safe_load(text)
    if not isinstance(values, dict):
        return ["rendered values are a %s, not a map" % type(values).__name__]
    upstream_path = Path(upstream_path)
    loose = LOOSE_VALUES_FILE.match(upstream_path.name)
    if upstream_path.name == "values.yaml" and (upstream_path.parent / "Chart.yaml").is_file():
        upstream = chart_values_tree(upstream_path.parent)
    elif loose and loose["chart"] in KEYS_ONLY_CHARTS:
        upstream = keys_only_values_tree(upstream_path)
    else:
        upstream = documented_values(upstream_path.read_text(), loose["chart"] if loose else None)
    return unknown_values_keys(values, upstream)
