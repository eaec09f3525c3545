# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup: where the microk8s snap puts its command, its Helm, its data and its kubeconfig on a node."""

DOCUMENTATION = r"""
name: microk8s_snap
short_description: Paths of the microk8s snap on a node
version_added: 0.1.0
author: infra.comments maintainers (@infra-comments)
description:
  - Returns where the microk8s snap puts things on the managed node, from the one place the collection writes them
    (C(plugins/module_utils/microk8s_snap.py), which the C(microk8s_addon) module reads too), so every role names
    the same paths.
  - C(microk8s) is the command (C(/snap/bin/microk8s)); C(helm) the Helm 3 client the snap ships
    (C(/snap/bin/microk8s.helm3)); C(data) the snap's data folder for its current revision
    (C(/var/snap/microk8s/current)); C(kubeconfig) the admin kubeconfig microk8s writes there
    (C(/var/snap/microk8s/current/credentials/client.config)).
options:
  _terms:
    description: The names of the paths wanted.
    type: list
    elements: str
    choices: [microk8s, helm, data, kubeconfig]
    required: true
"""

EXAMPLES = r"""
- name: Install a chart with the Helm client inside the microk8s snap.
  kubernetes.core.helm:
    binary_path: "{{ lookup('infra.comments.microk8s_snap', 'helm') }}"
    kubeconfig: "{{ lookup('infra.comments.microk8s_snap', 'kubeconfig') }}"
    release_name: example
    chart_ref: example/example
    release_namespace: example
"""

RETURN = r"""
_raw:
  description: One absolute path per term.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.infra.comments.plugins.module_utils.microk8s_snap import PATHS


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        unknown = [term for term in terms if term not in PATHS]
        if unknown:
            raise AnsibleLookupError(
                "microk8s_snap: unknown path %s; known: %s" % (", ".join(map(repr, unknown)), ", ".join(PATHS))
            )
        return [PATHS[term] for term in terms]
