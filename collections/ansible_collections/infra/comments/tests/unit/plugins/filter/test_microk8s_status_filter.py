# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The microk8s_status filter: the roles' and molecule's way to read `microk8s status --format yaml`."""

import os

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.infra.comments.plugins.filter.microk8s_status import FilterModule, microk8s_status

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "modules", "fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def test_the_filter_is_registered_under_its_name():
    assert FilterModule().filters() == {"microk8s_status": microk8s_status}


def test_three_voters_read_as_highly_available():
    status = microk8s_status(fixture("status_ha_three_nodes.txt"))
    assert (status["running"], status["ha_enabled"], status["ha_formed"]) == (True, True, True)
    assert [a["name"] for a in status["addons"] if a["status"] == "enabled"][:1] == ["argocd"]


def test_a_stopped_node_reads_as_not_running_with_its_message():
    status = microk8s_status(fixture("status_not_running.txt"))
    assert status["running"] is False
    assert status["message"].startswith("microk8s is not running")
    assert status["addons"] == []


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("Insufficient permissions to access MicroK8s.\n", "Insufficient permissions to access MicroK8s."),
        ("", "nothing"),
    ],
)
def test_other_output_fails_naming_what_microk8s_said(text, said):
    with pytest.raises(AnsibleFilterError) as error:
        microk8s_status(text)
    assert str(error.value) == (
        'microk8s_status: expected the output of "microk8s status --format yaml" to start with "microk8s:"; '
        "microk8s said: %s" % said
    )


def test_a_value_that_is_not_text_is_refused():
    with pytest.raises(AnsibleFilterError, match="^microk8s_status expects the text microk8s printed, got a dict$"):
        microk8s_status({"running": True})
