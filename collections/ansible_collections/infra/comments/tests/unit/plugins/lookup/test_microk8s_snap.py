# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The microk8s_snap lookup: the snap's paths, from the one list the module reads too."""

import pytest
from ansible.errors import AnsibleLookupError
from ansible_collections.infra.comments.plugins.lookup.microk8s_snap import LookupModule
from ansible_collections.infra.comments.plugins.module_utils import microk8s_snap


def test_each_path_is_the_snap_layout():
    terms = ["microk8s", "helm", "data", "kubeconfig"]
    assert LookupModule().run(terms) == [
        "/snap/bin/microk8s",
        "/snap/bin/microk8s.helm3",
        "/var/snap/microk8s/current",
        "/var/snap/microk8s/current/credentials/client.config",
    ]


def test_the_module_looks_its_command_up_in_the_same_folder():
    assert microk8s_snap.PATHS["microk8s"] == microk8s_snap.SNAP_BIN_DIR + "/microk8s"


def test_an_unknown_name_fails_listing_the_known_ones():
    with pytest.raises(AnsibleLookupError) as error:
        LookupModule().run(["kubectl"])
    assert str(error.value) == "microk8s_snap: unknown path 'kubectl'; known: microk8s, helm, data, kubeconfig"
