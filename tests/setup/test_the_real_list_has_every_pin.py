# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""requirements/test-data.yml's form: what can be checked here of the pins of upstream's published archives (the
loopback test uses a pin file of its own), and that each pin check fails when a pin is missing or malformed."""

import copy
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import testdata  # noqa: E402


def test_every_item_has_a_url_a_version_and_a_digest():
    data = testdata.load()
    assert testdata.check_form(data) == []
    for chart in data["charts"]:
        assert chart["version"] and chart["path"] == "charts/%s-%s" % (chart["name"], chart["version"])
        if chart.get("repository"):
            assert data["sources"][chart["repository"]].startswith("https://"), chart["path"]
            assert len(chart["digest"]) == 64 and chart["digest_note"], chart["path"]
        else:
            assert chart["url"].startswith("github:/") and chart["files"], chart["path"]
    for item in data["files"]:
        assert testdata.item_url(data, item["url"]).startswith("https://raw.githubusercontent.com/"), item["path"]
    # Every chart and file a test reads today: the CRD folders the manifests validate against, every chart a role
    # pins, the values files of the keys-only and the Kong charts.
    paths = {c["path"] for c in data["charts"]} | {f["path"].rsplit("/", 1)[0] for f in data["files"]}
    for folder in ("metallb", "kong", "prometheus-operator", "cloudnative-pg", "cert-manager", "barman-cloud"):
        assert "crds/" + folder in paths
    for chart in ("kong-3.4.1", "ingress-0.24.0", "metallb-0.14.9", "cloudnative-pg-0.29.0", "cert-manager-v1.21.1"):
        assert "charts/" + chart in paths
    assert {"charts/plugin-barman-cloud-0.7.0", "charts/garage-0.8.0", "charts/kube-prometheus-stack"} <= paths


def test_a_missing_or_malformed_pin_is_named():
    data = testdata.load()
    broken = copy.deepcopy(data)
    broken["charts"][0]["digest"] = None
    del broken["charts"][0]["digest_note"]
    broken["charts"][1]["digest"] = "sha256:abc"
    broken["files"][0]["sha256"] = ""
    del broken["files"][1]["url"]
    broken["charts"][2]["repository"] = "nowhere"
    assert testdata.check_form(broken) == [
        "chart %s: no digest and no digest_note saying why" % data["charts"][0]["path"],
        "chart %s: digest 'sha256:abc' is not a sha256" % data["charts"][1]["path"],
        "chart %s: repository nowhere is not in sources" % data["charts"][2]["path"],
        "file %s: sha256 is not a sha256" % data["files"][0]["path"],
        "file %s: no upstream url" % data["files"][1]["path"],
    ]


def test_a_chart_or_values_file_not_in_the_list_is_an_error():
    with pytest.raises(testdata.TestDataError, match=r"chart kong 9.9.9 is not in .* \(listed versions: 3.4.1\)"):
        testdata.chart_dir("kong", "9.9.9")
    with pytest.raises(testdata.TestDataError, match="expected one values file of nginx in the list, found none"):
        testdata.values_file("nginx")
    with pytest.raises(testdata.TestDataError, match="crds/nginx is not in requirements/test-data.yml"):
        testdata.path("crds/nginx")
