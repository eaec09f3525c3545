# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: the output of ``microk8s status --format yaml``, read by the collection's own parser."""

DOCUMENTATION = r"""
name: microk8s_status
short_description: Read the output of C(microk8s status --format yaml)
version_added: 0.1.0
author: infra.comments maintainers (@infra-comments)
description:
  - Parses what C(microk8s status --format yaml) printed with the parser the C(microk8s_addon) module uses. microk8s
    prints that text line by line, not with a YAML emitter, so an addon description holding a colon and a space breaks
    C(from_yaml); this parser reads the fixed layout instead.
  - Fails, naming the problem, when the text is not that output (for example an error message), so a changed
    format never reads as "not ready" or "no addons".
options:
  _input:
    description: The text C(microk8s status --format yaml) printed.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read the status on the first node.
  ansible.builtin.command:
    argv: [/snap/bin/microk8s, status, --format, yaml, --wait-ready, --timeout, "120"]
  register: status
  changed_when: false

- name: Check that the control plane is highly available.
  ansible.builtin.assert:
    that: (status.stdout | infra.comments.microk8s_status).ha_formed
"""

RETURN = r"""
_value:
  description: The node's status.
  type: dict
  contains:
    running:
      description: Whether microk8s is running.
      type: bool
    message:
      description: The message a node that is not running prints; empty otherwise.
      type: str
    ha_enabled:
      description: Whether the node runs dqlite, the HA datastore (true on a single node too).
      type: bool
    ha_nodes:
      description: The datastore's nodes, each with C(address) and C(role) (voter, standby, spare).
      type: list
      elements: dict
    ha_formed:
      description: Whether the control plane is highly available, as microk8s counts it (three voters or more).
      type: bool
    addons:
      description: The addons, each with C(name), C(repository) (null when not printed), C(description), C(version)
        and C(status) (enabled or disabled).
      type: list
      elements: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.infra.comments.plugins.module_utils.microk8s_status import StatusParseError, parse_status


def microk8s_status(text):
    if not isinstance(text, str):
        raise AnsibleFilterError("microk8s_status expects the text microk8s printed, got a %s" % type(text).__name__)
    try:
        return parse_status(text)
    except StatusParseError as exc:
        said = next((line.strip() for line in text.splitlines() if line.strip()), "nothing")
        # The message already holds the cause; ansible-core would append it again (from exc).
        raise AnsibleFilterError("microk8s_status: %s; microk8s said: %s" % (exc, said)) from None


class FilterModule:
    def filters(self):
        return {"microk8s_status": microk8s_status}
