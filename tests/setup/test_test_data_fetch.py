# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make test-data`'s online path, for real, on loopback. One HTTP server on 127.0.0.1, which logs every request,
serves a Helm chart repository per source, built with `helm package` and `helm repo index` from the test data's
charts (what this run's `make test-data` found: $SHARED here, the fetched cache on GitHub), and the CRD and values
files. The real target runs against it with the base URLs overridden (TEST_DATA_URL_<SOURCE>) and a pin file of this
test's own (the loopback archives' digests: repackaged charts are not the published archives). The ingress chart
is served without its packaged kong dependency, so the fetch must run `helm dependency build`; plugin-barman-cloud
has no digest in the test's pin file, so the first fetch records one and a later tampered archive is refused."""

import copy
import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import testdata  # noqa: E402

HELM = os.environ.get("HELM") or str(REPO / ".venv" / "bin" / "helm")
UNPINNED = "plugin-barman-cloud"  # no digest in the test's pin file: the first fetch records it
WITHOUT_DEPENDENCIES = "ingress"  # served without charts/: `helm dependency build` must fetch kong 3.2.0


class LoggingHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        self.server.requests.append(self.path)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    handler = functools.partial(LoggingHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.root = root
    httpd.url = "http://127.0.0.1:%d" % httpd.server_address[1]
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def helm(*args):
    result = subprocess.run([HELM, *args], capture_output=True, text=True)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def package(chart_folder, destination, strip_dependencies=False):
    """`helm package`; with strip_dependencies, the archive is rewritten without charts/ (helm package refuses to
    leave a declared dependency out), as a chart repository may publish a chart whose dependencies are not packaged."""
    archive = destination / helm("package", str(chart_folder), "--destination", str(destination)).split("/")[-1].strip()
    if strip_dependencies:
        name = yaml.safe_load((chart_folder / "Chart.yaml").read_text())["name"]
        stripped = archive.with_suffix(".stripped")
        with tarfile.open(archive) as source, tarfile.open(stripped, "w:gz") as target:
            for member in source.getmembers():
                if not member.name.startswith("%s/charts/" % name):
                    target.addfile(member, source.extractfile(member) if member.isfile() else None)
        stripped.replace(archive)


@pytest.fixture(scope="module")
def loopback(server, tmp_path_factory):
    """The served repositories and files, and this test's pin file: the real list with the loopback digests."""
    data = testdata.load()
    data_root = testdata.root()
    pins = copy.deepcopy(data)
    work = tmp_path_factory.mktemp("work")
    sources = set()
    for chart in data["charts"]:
        folder = data_root / chart["path"]
        if chart.get("repository"):
            served = server.root / chart["repository"]
            served.mkdir(exist_ok=True)
            sources.add(chart["repository"])
            package(folder, served, chart["name"] == WITHOUT_DEPENDENCIES)
            if chart["name"] == WITHOUT_DEPENDENCIES:
                # The dependency it needs, served from the repository its Chart.yaml names (charts.konghq.com).
                for dependency in (folder / "charts").glob("*.tgz"):
                    shutil.copy(dependency, served)
        else:
            base = chart["url"].partition(":/")[2]
            for name in chart["files"]:
                target = server.root / "github" / base / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(folder / name, target)
    for source in sources:
        helm("repo", "index", str(server.root / source), "--url", "%s/%s" % (server.url, source))
    for item in data["files"]:
        if not item.get("rendered_from"):
            target = server.root / "github" / item["url"].partition(":/")[2]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(data_root / item["path"], target)
    for chart in pins["charts"]:
        if chart.get("repository"):
            archive = server.root / chart["repository"] / ("%s-%s.tgz" % (chart["name"], chart["version"]))
            chart["digest"] = testdata.sha256_of(archive)
            chart["digest_note"] = "the loopback repository's archive, packaged by this test"
            if chart["name"] == UNPINNED:
                chart["digest"] = None
                chart["digest_note"] = "left out on purpose: the first fetch records it"
    pin_file = work / "test-data.yml"
    pin_file.write_text(yaml.safe_dump(pins, sort_keys=False))
    env = dict(os.environ, TEST_DATA_LIST=str(pin_file), SHARED=str(work / "no-shared"))
    env.update(TEST_DATA_CACHE=str(work / "cache"), TEST_DATA_POINTER=str(work / "pointer"))
    env.pop("TEST_DATA", None)
    env.pop("MAKEFLAGS", None)
    for name in data["sources"]:
        env["TEST_DATA_URL_" + name.upper().replace("-", "_")] = "%s/%s" % (server.url, name)
    return {"data": pins, "env": env, "cache": work / "cache", "pointer": work / "pointer"}


def make_test_data(env):
    return subprocess.run(["make", "-s", "-C", str(REPO), "test-data"], env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def first_run(server, loopback):
    server.requests.clear()
    result = make_test_data(loopback["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    return result, list(server.requests)


def test_the_first_run_assembles_a_cache_with_helm_and_checked_downloads(first_run, loopback):
    result, requests = first_run
    assert loopback["pointer"].read_text().strip() == str(loopback["cache"].resolve())
    # Every file is there with its sha256 (the CRDs rendered from the pulled charts included); the charts were held
    # to their digests when pulled, and their folders come from the archives, not from $SHARED's trees.
    problems = testdata.problems_in(loopback["cache"], loopback["data"])
    assert all("content differs from tree_sha256" in p for p in problems), problems
    for chart in loopback["data"]["charts"]:
        assert (loopback["cache"] / chart["path"] / "Chart.yaml").is_file(), chart["path"]
    # helm pull asked each repository for its index and its archive; the dependency came from konghq's repository.
    assert "/konghq/kong-3.2.0.tgz" in requests, requests
    assert "helm dependency build charts/ingress-0.24.0" in result.stdout
    assert (loopback["cache"] / "charts" / "ingress-0.24.0" / "charts" / "kong-3.2.0.tgz").is_file()
    assert any(r.startswith("/github/metallb/metallb/v0.14.9/") for r in requests), requests
    # The chart without a published digest in the pin file got one recorded.
    pins = yaml.safe_load((loopback["cache"] / "pins.yml").read_text())
    assert list(pins) == ["%s 0.7.0" % UNPINNED]


def test_the_tests_accept_the_assembled_cache(first_run, loopback):
    """tests/manifests' checks of the data itself (every CRD schema, the values files, each role's pinned chart
    folder), run against the cache instead of $SHARED; and every cached chart renders with Helm. The full chart
    renders per inventory take minutes and are make manifests' business."""
    env = dict(loopback["env"], TEST_DATA=str(loopback["cache"]))
    manifests = REPO / "collections/ansible_collections/infra/comments/tests/manifests"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(manifests / "test_validators.py")]
        + [str(manifests / "test_charts.py") + "::" + name for name in ("test_chart_pin_matches_the_role_default",)]
        + [str(manifests / "test_charts.py::test_a_keys_only_chart_has_only_values_files_in_shared_at_the_role_pin")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-500:]
    for chart in loopback["data"]["charts"]:
        rendered = helm("template", "t", str(loopback["cache"] / chart["path"]), "-n", "ns", "--kube-version", "1.35.0")
        assert "kind: Deployment" in rendered or "kind: StatefulSet" in rendered, chart["path"]


def test_a_second_run_fetches_nothing(first_run, server, loopback):
    server.requests.clear()
    result = make_test_data(loopback["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert server.requests == []
    assert "(0 fetched this run)" in result.stdout


def test_a_tampered_file_stops_with_the_item_the_url_and_both_digests(first_run, server, loopback):
    item = next(f for f in loopback["data"]["files"] if f["path"] == "crds/metallb/metallb.io_ipaddresspools.yaml")
    served = server.root / "github" / item["url"].partition(":/")[2]
    original = served.read_bytes()
    try:
        served.write_bytes(original.replace(b"IPAddressPool", b"IPAddressPooI", 1))
        (loopback["cache"] / item["path"]).unlink()
        result = make_test_data(loopback["env"])
    finally:
        served.write_bytes(original)
    assert result.returncode != 0
    url = "%s/github/%s" % (server.url, item["url"].partition(":/")[2])
    actual = hashlib.sha256(original.replace(b"IPAddressPool", b"IPAddressPooI", 1)).hexdigest()
    assert "%s: %s has sha256 %s, expected %s" % (item["path"], url, actual, item["sha256"]) in result.stderr
    assert not (loopback["cache"] / item["path"]).exists()
    # Put right again by the next run.
    assert make_test_data(loopback["env"]).returncode == 0


def test_a_tampered_chart_is_refused_even_when_only_the_first_fetch_pinned_it(first_run, server, loopback, tmp_path):
    recorded = yaml.safe_load((loopback["cache"] / "pins.yml").read_text())["%s 0.7.0" % UNPINNED]
    archive = server.root / "cloudnative-pg" / ("%s-0.7.0.tgz" % UNPINNED)
    original = archive.read_bytes()
    chart = tmp_path / UNPINNED
    shutil.copytree(testdata.chart_dir(UNPINNED, "0.7.0"), chart)
    with open(chart / "values.yaml", "a") as values:
        values.write("# changed\n")
    try:
        helm("package", str(chart), "--destination", str(tmp_path / "out"))
        tampered = tmp_path / "out" / archive.name
        shutil.copy(tampered, archive)
        (loopback["cache"] / ".downloads" / archive.name).unlink()
        result = make_test_data(loopback["env"])
    finally:
        archive.write_bytes(original)
    assert result.returncode != 0
    assert (
        "chart %s 0.7.0: the chart from %s/cloudnative-pg has digest sha256:%s, expected sha256:%s"
        % (UNPINNED, server.url, testdata.sha256_of(tampered), recorded)
    ) in result.stderr


def test_shared_is_used_as_it_is_only_when_every_item_has_its_pinned_content(tmp_path):
    """$SHARED as make test-data checks it: a copy of the data (SHARED here: no problem at all; a fetched cache: its
    charts' trees are the published archives', not SHARED's) with one file changed and one removed."""
    data, root = testdata.load(), testdata.root()
    copy_of_shared = tmp_path / "shared"
    for top in ("charts", "crds"):
        shutil.copytree(root / top, copy_of_shared / top)
    before = testdata.problems_in(copy_of_shared, data)
    if root.resolve() == Path(os.environ.get("SHARED") or REPO.parent / "shared").resolve():
        assert before == []
    changed = copy_of_shared / "crds" / "kong" / "custom-resource-definitions.yaml"
    changed.write_text(changed.read_text() + "# changed\n")
    (copy_of_shared / "charts" / "garage-0.8.0" / "values.yaml").unlink()
    problems = [p for p in testdata.problems_in(copy_of_shared, data) if p not in before]
    assert len(problems) == 2, problems
    assert problems[0].startswith("%s: content differs from tree_sha256" % (copy_of_shared / "charts" / "garage-0.8.0"))
    assert problems[1].startswith("%s: sha256 " % changed)
