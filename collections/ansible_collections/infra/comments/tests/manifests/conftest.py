# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the manifest check: the shared schemas, the Kubernetes version, and the rendered templates."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# tools/testdata.py: where the upstream test data of requirements/test-data.yml is (`make test-data` records it).
sys.path.insert(0, str(Path(__file__).resolve().parents[6] / "tools"))

import kube_schemas  # noqa: E402
import rendering  # noqa: E402
import testdata  # noqa: E402


@pytest.fixture(scope="session")
def shared_dir():
    """The folder holding the listed upstream test data ($SHARED when complete, else the cache), SHARED's layout."""
    try:
        path = testdata.root()
    except testdata.TestDataError as exc:
        pytest.fail(str(exc))
    if not (path / "crds").is_dir():
        pytest.fail("%s has no crds/ folder: run `make test-data`" % path)
    return path


@pytest.fixture(scope="session")
def crds(shared_dir):
    return kube_schemas.CrdIndex(shared_dir / "crds")


@pytest.fixture(scope="session")
def kubernetes_version():
    version = rendering.kubernetes_version()
    kube_schemas.require_supported_version(version)
    return version


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """inventory -> folder holding <role>/<template without .j2>, rendered once per session."""
    folders = {}

    def render(inventory):
        if inventory not in folders:
            work = tmp_path_factory.mktemp("render-" + inventory)
            result = rendering.render_inventory(inventory, work / "work", work / "out")
            if result.returncode != 0:
                pytest.fail(
                    "rendering the templates with inventory %s failed:\n%s\n%s"
                    % (inventory, result.stdout[-6000:], result.stderr[-3000:])
                )
            folders[inventory] = work / "out"
        return folders[inventory]

    return render
