# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where each chart keeps its CRDs, which decides how raising `<role>_chart_version` reaches them.

Helm installs a chart's `crds/` folder on the first install and never upgrades (or deletes) it; CRDs rendered from
`templates/` are upgraded with the release like any object. So a role whose chart has a `crds/` folder must apply
the new chart's CRDs itself before the upgrade (the kong role: `helm show crds`, then the release), and list them for
its reset; a role whose chart templates its CRDs needs nothing more. Checked on the real charts, with the values the
roles pass: `helm show crds` gives the `crds/` folder (subcharts' included), the full render everything.
"""

import subprocess

import pytest

# chart_render is test_charts.py's fixture (the real chart rendered with the role's values), used by name.
from test_charts import CHART_USES, USE_IDS, chart_render  # noqa: F401  # pylint: disable=unused-import

import charts
import kube_schemas
import rendering

INVENTORY = rendering.discover_inventories()[0]
# Roles whose chart ships CRDs in crds/: the variable that lists them (the role applies them before the release).
CRDS_FOLDER_LISTS = {"kong": "kong_crds"}


def crd_names(documents):
    return {d["metadata"]["name"] for d in documents if d.get("kind") == "CustomResourceDefinition"}


def crds_folder_names(folder):
    result = subprocess.run(
        [charts.helm_binary(), "show", "crds", str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return crd_names(kube_schemas.load_documents(result.stdout))


@pytest.mark.parametrize("use", CHART_USES, ids=USE_IDS)
def test_crds_in_a_crds_folder_are_the_ones_the_role_applies_first(use, chart_render, shared_dir):  # noqa: F811
    folder_crds = crds_folder_names(charts.chart_dir(use, shared_dir / "charts", INVENTORY))
    all_crds = crd_names(chart_render(use, INVENTORY))
    if use.role in CRDS_FOLDER_LISTS:
        listed = set(charts.setting(use.role, CRDS_FOLDER_LISTS[use.role]))
        assert folder_crds and folder_crds == all_crds == listed, (
            "%s: crds/ folder %s, rendered %s, the role's %s %s"
            % (use.chart, sorted(folder_crds), sorted(all_crds), CRDS_FOLDER_LISTS[use.role], sorted(listed))
        )
    else:
        # Templated CRDs only: `helm upgrade` carries them. A crds/ folder here would need the kong role's treatment.
        assert folder_crds == set(), "%s ships CRDs in crds/ %s: its role must apply them before the upgrade" % (
            use.chart,
            sorted(folder_crds),
        )
