# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: the images of one repository in a node's ``microk8s ctr images ls`` output."""

DOCUMENTATION = r"""
name: image_refs_in_repository
short_description: List the images of one repository in a containerd image list
version_added: 0.1.0
author: infra.comments maintainers
description:
  - Reads the text that C(microk8s ctr images ls) (or C(ctr images ls -q)) printed and returns the full references
    of every image of O(repository), whatever its tag or digest, so they can be removed with C(ctr images rm).
options:
  _input:
    description: The text C(ctr images ls) printed.
    type: str
    required: true
  repository:
    description: The repository, short or full form, without a tag (C(infra-comments/comments-api)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Remove every tag of the app's image from this node.
  ansible.builtin.command:
    argv: ["/snap/bin/microk8s", "ctr", "images", "rm", "{{ item }}"]
  loop: "{{ ctr_images.stdout | infra.comments.image_refs_in_repository('infra-comments/comments-api') }}"
  changed_when: true

# "docker.io/infra-comments/comments-api:1.0.0-abc\ndocker.io/library/busybox:latest"
#   | infra.comments.image_refs_in_repository('infra-comments/comments-api')
#   => ['docker.io/infra-comments/comments-api:1.0.0-abc']
"""

RETURN = r"""
_value:
  description: Full references of the repository's images, in the order listed; empty when there are none.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.infra.comments.plugins.module_utils.container_images import (
    ImageListError,
    references_in_repository,
)


def image_refs_in_repository(text, repository):
    try:
        return references_in_repository(text, repository)
    except ImageListError as exc:
        # The message already holds the cause; ansible-core would append it again (from exc).
        raise AnsibleFilterError("image_refs_in_repository: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"image_refs_in_repository": image_refs_in_repository}
