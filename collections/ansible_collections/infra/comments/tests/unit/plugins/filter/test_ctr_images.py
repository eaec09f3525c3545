# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The import check of the comments_app role: which nodes' containerd lacks the image, read from `ctr images ls`.

The fixtures follow the table containerd's `ctr images ls` prints (REF TYPE DIGEST SIZE PLATFORMS LABELS, as
microk8s' `microk8s ctr images ls` shows it) and its `--quiet` form; node2's holds an older tag of the app only.
"""

import os

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.infra.comments.plugins.filter.image_refs_in_repository import image_refs_in_repository
from ansible_collections.infra.comments.plugins.filter.nodes_missing_image import FilterModule, nodes_missing_image
from ansible_collections.infra.comments.plugins.module_utils.container_images import (
    ImageListError,
    normalize_reference,
    parse_image_list,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
IMAGE = "infra-comments/comments-api:1.0.0-06ab03b9aff8"


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


@pytest.fixture
def outputs():
    return {
        "node1": fixture("ctr_images_ls_node1.txt"),
        "node2": fixture("ctr_images_ls_node2_missing.txt"),
        "node3": fixture("ctr_images_ls_quiet_node3.txt"),
    }


def test_the_node_without_the_tag_is_named(outputs):
    assert nodes_missing_image(outputs, IMAGE) == ["node2"]


def test_no_node_is_named_when_every_node_has_the_image(outputs):
    del outputs["node2"]
    assert nodes_missing_image(outputs, IMAGE) == []


def test_every_node_is_named_for_an_image_none_has(outputs):
    assert nodes_missing_image(outputs, "infra-comments/comments-api:9.9.9-000000000000") == ["node1", "node2", "node3"]


def test_a_node_with_an_empty_list_lacks_the_image(outputs):
    outputs["node4"] = ""
    assert nodes_missing_image(outputs, IMAGE) == ["node2", "node4"]


@pytest.mark.parametrize("reference", [IMAGE, "docker.io/" + IMAGE])
def test_short_and_full_references_are_the_same_image(outputs, reference):
    assert nodes_missing_image(outputs, reference) == ["node2"]


def test_a_tag_that_only_starts_like_the_wanted_one_does_not_count(outputs):
    # The wanted tag is a prefix of what node1 has: it must not match.
    assert nodes_missing_image({"node1": outputs["node1"]}, "infra-comments/comments-api:1.0.0-06ab") == ["node1"]


def test_the_table_header_and_digest_only_rows_are_not_references():
    refs = parse_image_list(fixture("ctr_images_ls_node1.txt"))
    assert "REF" not in refs
    assert not any(ref.startswith("sha256:") for ref in refs)
    assert refs[0] == "docker.io/calico/cni:v3.28.1"
    assert len(refs) == 7


def test_the_quiet_form_reads_the_same_references_as_the_table():
    assert parse_image_list(fixture("ctr_images_ls_quiet_node3.txt")) == [
        "docker.io/calico/cni:v3.28.1",
        "docker.io/calico/node:v3.28.1",
        "docker.io/" + IMAGE,
        "docker.io/library/postgres:17",
        "registry.k8s.io/pause:3.7",
    ]


def test_output_that_is_not_an_image_list_fails_naming_the_node():
    with pytest.raises(AnsibleFilterError, match=r"node node2: line 1 .*'ctr: failed to dial'"):
        nodes_missing_image({"node1": fixture("ctr_images_ls_node1.txt"), "node2": "ctr: failed to dial"}, IMAGE)


def test_a_list_instead_of_a_mapping_is_refused():
    with pytest.raises(AnsibleFilterError, match="expected a mapping of node name"):
        nodes_missing_image(["node1"], IMAGE)


@pytest.mark.parametrize(
    "reference, full",
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox:1.36", "docker.io/library/busybox:1.36"),
        ("infra-comments/comments-api:1.0.0-abc", "docker.io/infra-comments/comments-api:1.0.0-abc"),
        ("docker.io/infra-comments/comments-api:1.0.0-abc", "docker.io/infra-comments/comments-api:1.0.0-abc"),
        ("localhost:32000/app:1", "localhost:32000/app:1"),
        ("localhost/app", "localhost/app:latest"),
        ("ghcr.io/example/comments-api:1.0.0", "ghcr.io/example/comments-api:1.0.0"),
        ("registry.example.com:5000/a/b/c", "registry.example.com:5000/a/b/c:latest"),
        ("ghcr.io/example/app@sha256:" + "a" * 64, "ghcr.io/example/app@sha256:" + "a" * 64),
    ],
)
def test_references_are_compared_in_their_full_form(reference, full):
    assert normalize_reference(reference) == full


@pytest.mark.parametrize("reference", ["", " busybox", "bad image", None])
def test_a_reference_that_is_not_one_is_refused(reference):
    with pytest.raises(ImageListError):
        normalize_reference(reference)


def test_the_repository_filter_finds_every_tag_of_the_app_and_nothing_else():
    text = (
        fixture("ctr_images_ls_node1.txt")
        + "docker.io/infra-comments/comments-api:0.9.0-aaaaaaaaaaaa x y\n"
        + "docker.io/infra-comments/comments-api-other:1 x y\n"
    )
    assert image_refs_in_repository(text, "infra-comments/comments-api") == [
        "docker.io/infra-comments/comments-api:1.0.0-06ab03b9aff8",
        "docker.io/infra-comments/comments-api:0.9.0-aaaaaaaaaaaa",
    ]
    assert image_refs_in_repository(fixture("ctr_images_ls_node1.txt"), "library/postgres") == []


def test_the_filters_are_registered_under_their_names():
    assert FilterModule().filters() == {"nodes_missing_image": nodes_missing_image}
