#!/usr/bin/env python3
# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The upstream test data (charts, CRDs, values files) listed in requirements/test-data.yml: where the tests find it,
and how `make test-data` makes it present.

Tests: `import testdata` (tools/ on sys.path), then `testdata.chart_dir("kong", "3.4.1")`,
`testdata.values_file("kube-prometheus-stack")`, `testdata.crds_dir()`, `testdata.path("crds/kong/...")`.
The root is $TEST_DATA when set, else the folder `make test-data` wrote into the pointer file ($TEST_DATA_POINTER,
default .test-data at the repository's top).

`python tools/testdata.py assemble` (what `make test-data` runs): $SHARED is used as it is when it holds every listed
item with the pinned content; otherwise a cache ($TEST_DATA_CACHE, default ~/.cache/infra-comments-test-data) is
assembled with Helm's own commands (`helm pull` at the pinned version, sha256 against the pinned digest,
`helm dependency build` when a dependency is missing, `helm template` for the CRDs that are a chart's rendered
templates) and plain HTTPS downloads checked against their sha256. `check-form` checks the list's form only.
Only the standard library and PyYAML: importable from the tooling venv and the app's venv alike.
"""

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
LIST = Path(os.environ.get("TEST_DATA_LIST") or REPO / "requirements" / "test-data.yml")
DEFAULT_POINTER = REPO / ".test-data"
DEFAULT_CACHE = Path.home() / ".cache" / "infra-comments-test-data"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class TestDataError(Exception):
    """A listed item is missing, wrong, or could not be fetched; the message names it."""


# ---------------------------------------------------------------------------------------------------- the list


def load(list_file=None):
    """The list, its form checked (see check_form)."""
    path = Path(list_file or os.environ.get("TEST_DATA_LIST") or LIST)
    data = yaml.safe_load(path.read_text())
    problems = check_form(data)
    if problems:
        raise TestDataError("%s is not a valid test-data list:\n  %s" % (path, "\n  ".join(problems)))
    return data


def check_form(data):
    """Every chart has a path, name, version, repository URL (or upstream files) and a digest (or says why none);
    every file has a path, an upstream URL and a sha256. Returns the problems, empty when none."""
    problems = []
    sources = data.get("sources") or {}
    for name, url in sources.items():
        if not re.match(r"^https?://", str(url)):
            problems.append("source %s: %r is not an http(s) URL" % (name, url))
    paths = set()
    for chart in data.get("charts") or []:
        where = "chart %s" % chart.get("path")
        for key in ("path", "name", "version"):
            if not chart.get(key):
                problems.append("%s: no %s" % (where, key))
        if chart.get("path") in paths:
            problems.append("%s: listed twice" % where)
        paths.add(chart.get("path"))
        if not SHA256.match(str(chart.get("tree_sha256", ""))):
            problems.append("%s: tree_sha256 is not a sha256" % where)
        if chart.get("repository"):
            if chart["repository"] not in sources:
                problems.append("%s: repository %s is not in sources" % (where, chart["repository"]))
            digest = chart.get("digest")
            if digest is None and not chart.get("digest_note"):
                problems.append("%s: no digest and no digest_note saying why" % where)
            elif digest is not None and not SHA256.match(str(digest)):
                problems.append("%s: digest %r is not a sha256" % (where, digest))
        elif chart.get("files"):
            if not chart.get("url"):
                problems.append("%s: upstream files without a url" % where)
            for name, digest in chart["files"].items():
                if not SHA256.match(str(digest)):
                    problems.append("%s: file %s has no sha256" % (where, name))
        else:
            problems.append("%s: neither a repository nor upstream files" % where)
    for item in data.get("files") or []:
        where = "file %s" % item.get("path")
        if not item.get("path"):
            problems.append("%s: no path" % where)
        if item.get("path") in paths:
            problems.append("%s: listed twice" % where)
        paths.add(item.get("path"))
        if not item.get("url"):
            problems.append("%s: no upstream url" % where)
        if not SHA256.match(str(item.get("sha256", ""))):
            problems.append("%s: sha256 is not a sha256" % where)
        render = item.get("rendered_from")
        if render and render.get("chart") not in {c.get("path") for c in data.get("charts") or []}:
            problems.append("%s: rendered_from chart %s is not a listed chart" % (where, render.get("chart")))
    return problems


def source_url(data, name):
    """A source's base URL: $TEST_DATA_URL_<NAME> (upper case, - as _) overrides the list's."""
    override = os.environ.get("TEST_DATA_URL_" + re.sub(r"[^A-Z0-9]", "_", name.upper()))
    return (override or data["sources"][name]).rstrip("/")


def item_url(data, url):
    """`source:/rest` resolved against its source, anything else as it is."""
    source, sep, rest = url.partition(":/")
    if sep and source in data["sources"]:
        return source_url(data, source) + "/" + rest.lstrip("/")
    return url


# ---------------------------------------------------------------------------------------------------- the accessor


def root():
    """The folder the tests read the data from: $TEST_DATA, else what `make test-data` recorded."""
    if os.environ.get("TEST_DATA"):
        return Path(os.environ["TEST_DATA"])
    pointer = Path(os.environ.get("TEST_DATA_POINTER") or DEFAULT_POINTER)
    if not pointer.is_file():
        raise TestDataError(
            "%s is missing: run `make test-data` first (or set TEST_DATA to the data's folder)" % pointer
        )
    return Path(pointer.read_text().strip())


def path(relative):
    """root()/relative for a listed item, or a folder holding listed items (crds/kong, charts/kong)."""
    relative = str(relative).strip("/")
    data = load()
    listed = [c["path"] for c in data["charts"]] + [f["path"] for f in data["files"]]
    if not any(p == relative or p.startswith(relative + "/") for p in listed):
        raise TestDataError("%s is not in %s: add it to the list first" % (relative, LIST.relative_to(REPO)))
    return root() / relative


def chart_dir(name, version):
    """The folder of chart `name` at `version` (a role's pin), which the list must hold."""
    return root() / chart_entry(name, version)["path"]


def chart_entry(name, version):
    """The list's entry of chart `name` at `version`."""
    charts = load()["charts"]
    for chart in charts:
        if chart["name"] == name and str(chart["version"]) == str(version):
            return chart
    listed = sorted(str(c["version"]) for c in charts if c["name"] == name)
    raise TestDataError(
        "chart %s %s is not in %s (listed versions: %s): the role's pin and the test data must agree"
        % (name, version, LIST.relative_to(REPO), ", ".join(listed) or "none")
    )


def chart_version(name):
    """The one version of chart `name` the list holds (a test that needs some version of it, not a role's pin)."""
    versions = sorted(str(c["version"]) for c in load()["charts"] if c["name"] == name)
    if len(versions) != 1:
        raise TestDataError("expected one version of chart %s in the list, found %s" % (name, versions or "none"))
    return versions[0]


def values_file(chart, version=None):
    """The upstream default values file of `chart` (only one version listed unless `version` says which)."""
    found = [
        f
        for f in load()["files"]
        if (f.get("values_of") or {}).get("chart") == chart
        and (version is None or str(f["values_of"]["version"]) == str(version))
    ]
    if len(found) != 1:
        raise TestDataError(
            "expected one values file of %s%s in the list, found %s"
            % (chart, " " + str(version) if version else "", [f["path"] for f in found] or "none")
        )
    return root() / found[0]["path"]


def charts_dir():
    return root() / "charts"


def crds_dir():
    return root() / "crds"


# ---------------------------------------------------------------------------------------------------- checks


def sha256_of(file):
    digest = hashlib.sha256()
    with open(file, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(folder):
    """sha256 of a folder's files: `cd FOLDER && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum`."""
    folder = Path(folder)
    names = sorted(
        ("./" + p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()),
        key=lambda n: n.encode(),
    )
    lines = "".join("%s  %s\n" % (sha256_of(folder / n), n) for n in names)
    return hashlib.sha256(lines.encode()).hexdigest()


def problems_in(folder, data):
    """What `folder` lacks of the list (SHARED's layout): a missing item, or one whose content is not the pin."""
    folder, problems = Path(folder), []
    for chart in data["charts"]:
        where = folder / chart["path"]
        if not (where / "Chart.yaml").is_file():
            problems.append("%s: missing" % where)
        elif tree_sha256(where) != chart["tree_sha256"]:
            problems.append("%s: content differs from tree_sha256 %s" % (where, chart["tree_sha256"]))
    for item in data["files"]:
        where = folder / item["path"]
        if not where.is_file():
            problems.append("%s: missing" % where)
        elif sha256_of(where) != item["sha256"]:
            problems.append("%s: sha256 %s, expected %s" % (where, sha256_of(where), item["sha256"]))
    return problems


# ---------------------------------------------------------------------------------------------------- fetching


class Fetcher:
    """Assembles the list in `cache` (SHARED's layout), fetching only what is not there with the pinned content."""

    def __init__(self, data, cache, helm, log=print):
        self.data, self.cache, self.helm, self.log = data, Path(cache), helm, log
        self.state = self.cache / ".state"
        self.downloads = self.cache / ".downloads"
        self.fetched = []

    def run(self):
        for folder in (self.state, self.downloads):
            folder.mkdir(parents=True, exist_ok=True)
        for chart in self.data["charts"]:
            if chart.get("repository"):
                self.chart_from_repository(chart)
            else:
                self.chart_from_files(chart)
        for item in self.data["files"]:
            if item.get("rendered_from"):
                self.rendered_file(item)
            else:
                self.downloaded_file(item)
        return self.fetched

    # --- pins recorded by a first fetch (a chart whose repository's digest could not be read beforehand)
    def recorded_pins(self):
        pins = self.cache / "pins.yml"
        return (yaml.safe_load(pins.read_text()) or {}) if pins.is_file() else {}

    def record_pin(self, chart, digest):
        pins = self.recorded_pins()
        pins["%s %s" % (chart["name"], chart["version"])] = digest
        (self.cache / "pins.yml").write_text(
            "# Digests recorded by the first fetch of charts the list has no published digest for: later fetches are "
            "held to them.\n" + yaml.safe_dump(pins, sort_keys=True)
        )

    def download(self, url, target, item, expected):
        """GET url into target, checked against expected sha256 (None: record what came)."""
        self.log("test-data: fetching %s" % url)
        self.fetched.append(url)
        part = target.with_name(target.name + ".part")
        try:
            with urllib.request.urlopen(url, timeout=120) as response, open(part, "wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError) as exc:
            part.unlink(missing_ok=True)
            raise TestDataError("%s: downloading %s failed: %s" % (item, url, exc)) from exc
        actual = sha256_of(part)
        if expected is not None and actual != expected:
            part.unlink()
            raise TestDataError("%s: %s has sha256 %s, expected %s" % (item, url, actual, expected))
        part.replace(target)
        return actual

    def chart_from_repository(self, chart):
        item = "chart %s %s" % (chart["name"], chart["version"])
        repo = source_url(self.data, chart["repository"])
        expected = chart.get("digest") or self.recorded_pins().get("%s %s" % (chart["name"], chart["version"]))
        archive = self.downloads / ("%s-%s.tgz" % (chart["name"], chart["version"]))
        if not (archive.is_file() and expected and sha256_of(archive) == expected):
            self.log("test-data: helm pull %s --repo %s --version %s" % (chart["name"], repo, chart["version"]))
            self.fetched.append("%s %s %s" % (repo, chart["name"], chart["version"]))
            with tempfile.TemporaryDirectory(dir=self.cache) as tmp:
                result = subprocess.run(
                    [self.helm, "pull", chart["name"], "--repo", repo, "--version", str(chart["version"])]
                    + ["--destination", tmp],
                    capture_output=True,
                    text=True,
                    env=self.helm_env(),
                )
                pulled = sorted(Path(tmp).glob("*.tgz"))
                if result.returncode != 0 or len(pulled) != 1:
                    raise TestDataError(
                        "%s: `helm pull` from %s failed: %s" % (item, repo, (result.stderr or result.stdout).strip())
                    )
                actual = sha256_of(pulled[0])
                if expected is None:
                    self.record_pin(chart, actual)
                    self.log(
                        "test-data: %s: no published digest in the list, recorded %s in %s/pins.yml"
                        % (item, actual, self.cache)
                    )
                elif actual != expected:
                    raise TestDataError(
                        "%s: the chart from %s has digest sha256:%s, expected sha256:%s"
                        % (item, repo, actual, expected)
                    )
                pulled[0].replace(archive)
            expected = sha256_of(archive)
        self.unpack(chart, archive, expected, repo)

    def unpack(self, chart, archive, digest, repo):
        target = self.cache / chart["path"]
        marker = self.state / (chart["path"].replace("/", "_") + ".digest")
        if target.is_dir() and marker.is_file() and marker.read_text().strip() == digest:
            return
        with tempfile.TemporaryDirectory(dir=self.cache) as tmp:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
            unpacked = Path(tmp) / chart["name"]
            if not (unpacked / "Chart.yaml").is_file():
                raise TestDataError(
                    "chart %s %s: %s holds no %s/Chart.yaml" % (chart["name"], chart["version"], archive, chart["name"])
                )
            self.build_dependencies(chart, unpacked, repo)
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            unpacked.replace(target)
        marker.write_text(digest + "\n")

    def helm_env(self):
        """Helm's repositories and caches inside the cache: the user's own Helm setup is never read or changed."""
        env = dict(os.environ)
        env.update(
            HELM_REPOSITORY_CONFIG=str(self.cache / ".helm" / "repositories.yaml"),
            HELM_REPOSITORY_CACHE=str(self.cache / ".helm" / "repository"),
            HELM_CACHE_HOME=str(self.cache / ".helm" / "cache"),
            HELM_CONFIG_HOME=str(self.cache / ".helm" / "config"),
            HELM_DATA_HOME=str(self.cache / ".helm" / "data"),
        )
        return env

    def build_dependencies(self, chart, folder, repo):
        """`helm dependency build` when `helm dependency list` shows a dependency missing from charts/.

        Dependencies name their repository by its real URL; the repository is registered under that URL with the
        index read from the configured source URL (the same URL unless overridden), then built with --skip-refresh.
        """
        listing = subprocess.run([self.helm, "dependency", "list", str(folder)], capture_output=True, text=True)
        missing = [
            line.split("\t")[0].strip() for line in listing.stdout.splitlines() if line.rstrip().endswith("missing")
        ]
        if not missing:
            return
        item = "chart %s %s" % (chart["name"], chart["version"])
        declared = yaml.safe_load((folder / "Chart.yaml").read_text()).get("dependencies") or []
        repos = {}
        for dependency in declared:
            url = (dependency.get("repository") or "").rstrip("/")
            if url.startswith("http"):
                name = next((n for n, u in self.data["sources"].items() if u.rstrip("/") == url), None)
                if name is None:
                    raise TestDataError(
                        "%s: dependency %s comes from %s, which is not in the list's sources"
                        % (item, dependency["name"], url)
                    )
                repos[name] = url
        env = self.helm_env()
        config = Path(env["HELM_REPOSITORY_CONFIG"])
        cache = Path(env["HELM_REPOSITORY_CACHE"])
        cache.mkdir(parents=True, exist_ok=True)
        entries = [{"name": n, "url": u} for n, u in sorted(repos.items())]
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            yaml.safe_dump({"apiVersion": "", "generated": "0001-01-01T00:00:00Z", "repositories": entries})
        )
        for name in repos:
            self.download(source_url(self.data, name) + "/index.yaml", cache / ("%s-index.yaml" % name), item, None)
        self.log("test-data: helm dependency build %s (missing: %s)" % (chart["path"], ", ".join(missing)))
        result = subprocess.run(
            [self.helm, "dependency", "build", "--skip-refresh", str(folder)], capture_output=True, text=True, env=env
        )
        if result.returncode != 0:
            raise TestDataError(
                "%s: `helm dependency build` failed: %s" % (item, (result.stderr or result.stdout).strip())
            )

    def chart_from_files(self, chart):
        """A chart its project publishes in no chart repository: its files from the git tag, each sha256-checked."""
        target = self.cache / chart["path"]
        for name, digest in sorted(chart["files"].items()):
            file = target / name
            if file.is_file() and sha256_of(file) == digest:
                continue
            file.parent.mkdir(parents=True, exist_ok=True)
            url = item_url(self.data, chart["url"]).rstrip("/") + "/" + name
            self.download(url, file, "chart %s %s, file %s" % (chart["name"], chart["version"], name), digest)

    def downloaded_file(self, item):
        target = self.cache / item["path"]
        if target.is_file() and sha256_of(target) == item["sha256"]:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        self.download(item_url(self.data, item["url"]), target, item["path"], item["sha256"])

    def rendered_file(self, item):
        """One CustomResourceDefinition of a chart's templates, as `helm template --show-only` renders it."""
        target = self.cache / item["path"]
        if target.is_file() and sha256_of(target) == item["sha256"]:
            return
        text = render_document(self.helm, self.cache / item["rendered_from"]["chart"], item["rendered_from"])
        actual = hashlib.sha256(text.encode()).hexdigest()
        if actual != item["sha256"]:
            raise TestDataError(
                "%s: rendered from %s it has sha256 %s, expected %s"
                % (item["path"], item["rendered_from"]["chart"], actual, item["sha256"])
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


_RENDERS = {}


def render_document(helm, chart, spec):
    """`helm template RELEASE CHART -n NS --show-only TEMPLATE [--set ...]`, the document named spec["name"], with
    its `# Source:` line dropped and starting with `---` (how $SHARED/crds holds them, crds/README.md)."""
    command = [helm, "template", spec["release"], str(chart), "-n", spec["namespace"], "--show-only", spec["template"]]
    for setting in spec.get("set") or []:
        command += ["--set", setting]
    if spec.get("kube_version"):
        command += ["--kube-version", spec["kube_version"]]
    key = tuple(command)
    if key not in _RENDERS:  # one template holds many CRDs (cloudnative-pg's 11): rendered once
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise TestDataError("rendering %s from %s failed: %s" % (spec["name"], chart, result.stderr.strip()))
        _RENDERS[key] = result.stdout
    for document in re.split(r"^---\n", _RENDERS[key], flags=re.M):
        body = re.sub(r"^# Source: .*\n", "", document)
        if (yaml.safe_load(body) or {}).get("metadata", {}).get("name") == spec["name"]:
            return "---\n" + body
    raise TestDataError("%s renders no document named %s" % (chart, spec["name"]))


# ---------------------------------------------------------------------------------------------------- CLI


def assemble(shared, cache, pointer, helm, list_file=None):
    """SHARED when it holds everything with the pinned content, else the cache, fetched as needed; writes pointer."""
    data = load(list_file)
    chosen = None
    if shared and Path(shared).is_dir():
        problems = problems_in(shared, data)
        if not problems:
            chosen = Path(shared).resolve()
            print("test-data: %s holds every listed item with the pinned content: using it" % chosen)
        else:
            print(
                "test-data: %s cannot be used as it is (%d problems, first: %s); assembling %s"
                % (shared, len(problems), problems[0], cache)
            )
    if chosen is None:
        fetched = Fetcher(data, cache, helm).run()
        problems = [p for p in problems_in(cache, data) if not p.endswith("missing")]
        # Charts in the cache come from their published archives, whose trees differ from SHARED's locally built
        # ones: only the files are held to their sha256 here; the charts were held to their digests when pulled.
        problems = [p for p in problems if "tree_sha256" not in p]
        if problems:
            raise TestDataError("the cache %s is not right after fetching:\n  %s" % (cache, "\n  ".join(problems)))
        chosen = Path(cache).resolve()
        print("test-data: %s is complete (%d fetched this run)" % (chosen, len(fetched)))
    Path(pointer).write_text(str(chosen) + "\n")
    return chosen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("assemble", help="use SHARED or assemble the cache; record the choice (make test-data)")
    run.add_argument("--shared", default=os.environ.get("SHARED"))
    run.add_argument("--cache", default=os.environ.get("TEST_DATA_CACHE") or DEFAULT_CACHE)
    run.add_argument("--pointer", default=os.environ.get("TEST_DATA_POINTER") or DEFAULT_POINTER)
    run.add_argument("--helm", default=os.environ.get("HELM") or "helm")
    run.add_argument("--list", dest="list_file")
    form = commands.add_parser("check-form", help="check the list's form only")
    form.add_argument("--list", dest="list_file")
    commands.add_parser("root", help="print the folder the tests read")
    args = parser.parse_args(argv)
    try:
        if args.command == "assemble":
            assemble(args.shared, Path(args.cache), args.pointer, args.helm, args.list_file)
        elif args.command == "check-form":
            load(args.list_file)
            print("test-data: the list's form is right")
        else:
            print(root())
    except TestDataError as exc:
        print("test-data: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
