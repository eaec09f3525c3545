# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: which nodes lack an image, from each node's ``microk8s ctr images ls`` output."""

DOCUMENTATION = r"""
name: nodes_missing_image
short_description: Name the nodes whose containerd lacks an image
version_added: 0.1.0
author: infra.comments maintainers
description:
  - Reads, for each node, the text that C(microk8s ctr images ls) (or C(ctr images ls -q)) printed there and returns
    the nodes on which the image O(reference) is not listed.
  - References are compared in their full form, as the container runtime resolves them, so
    C(infra-comments/comments-api:1.0.0-abc) matches C(docker.io/infra-comments/comments-api:1.0.0-abc).
  - C(microk8s images import) exits 0 even when it could not push the image to a node; this filter is how the
    comments_app role checks every node afterwards.
  - A line that cannot be a row of that output is an error naming the node, so a changed output format fails
    instead of reading as a missing image.
options:
  _input:
    description: Mapping of node name to the text C(ctr images ls) printed on it.
    type: dict
    required: true
  reference:
    description: The image reference to look for (short or full form, with a tag or a digest).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Fail unless every node has the image.
  ansible.builtin.assert:
    that: images_by_node | infra.comments.nodes_missing_image(image) | length == 0
    fail_msg: "{{ image }} is missing on {{ images_by_node | infra.comments.nodes_missing_image(image) | join(', ') }}"
  vars:
    image: infra-comments/comments-api:1.0.0-0123456789ab
    images_by_node: >-
      {{ dict(groups['microk8s'] | zip(groups['microk8s'] | map('extract', hostvars, ['ctr_images', 'stdout']))) }}

# {'node1': 'docker.io/infra-comments/comments-api:1.0.0-abc\n', 'node2': ''}
#   | infra.comments.nodes_missing_image('infra-comments/comments-api:1.0.0-abc')  => ['node2']
"""

RETURN = r"""
_value:
  description: The nodes whose image list lacks the image, in the order of the input; empty when every node has it.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.infra.comments.plugins.module_utils.container_images import ImageListError, nodes_missing


def nodes_missing_image(outputs_by_node, reference):
    try:
        return nodes_missing(outputs_by_node, reference)
    except ImageListError as exc:
        # The message already holds the cause; ansible-core would append it again (from exc).
        raise AnsibleFilterError("nodes_missing_image: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"nodes_missing_image": nodes_missing_image}
