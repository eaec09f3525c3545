# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the image list that ``microk8s ctr images ls`` prints, and compare image references.

containerd stores every image under its full reference (``docker.io/library/busybox:latest``),
while a Kubernetes manifest or ``docker tag`` may use the short form (``busybox``). Both are
brought to the full form before they are compared, the way the container runtime does it:

    busybox                          -> docker.io/library/busybox:latest
    infra-comments/comments-api:1.0  -> docker.io/infra-comments/comments-api:1.0
    localhost:32000/app:1            -> localhost:32000/app:1 (a registry host is kept)

``ctr images ls`` prints a table whose first column is the reference (columns shortened here)::

    REF                           TYPE                                     DIGEST      SIZE     PLATFORMS    LABELS
    docker.io/calico/cni:v3.28.1  application/vnd.oci.image.index.v1+json  sha256:...  90.9 MiB linux/amd64  io.cri...

and ``ctr images ls -q`` prints only the references, one a line. Both are read here.
"""

import re

DEFAULT_REGISTRY = "docker.io"
_FULL_REFERENCE = re.compile(
    r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?/[A-Za-z0-9._/-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?(@sha256:[a-f0-9]{64})?$"
)


class ImageListError(ValueError):
    """The text is not an image list, or a reference is not a valid image reference."""


def normalize_reference(reference):
    """Return the full form of an image reference (registry, repository path, tag or digest)."""
    if not isinstance(reference, str) or not reference.strip() or reference != reference.strip():
        raise ImageListError("%r is not an image reference" % (reference,))
    if any(c.isspace() for c in reference):
        raise ImageListError("%r is not an image reference: it contains white space" % (reference,))
    first, sep, rest = reference.partition("/")
    # Like the Docker reference grammar: the first component is a registry host only when it has a
    # dot or a port, or is "localhost"; otherwise the name lives on Docker Hub.
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DEFAULT_REGISTRY, reference
    if registry == DEFAULT_REGISTRY and "/" not in path.split("@", 1)[0]:
        path = "library/" + path
    name = path.split("@", 1)[0]
    if "@" not in path and ":" not in name.rsplit("/", 1)[-1]:
        path += ":latest"
    return registry + "/" + path


def parse_image_list(text):
    """Return the references of ``ctr images ls`` (table) or ``ctr images ls -q`` output, in order.

    Raises ImageListError when a line cannot be a row of that output, so that a changed output format
    fails loudly instead of reading as "no image present".
    """
    if not isinstance(text, str):
        raise ImageListError('expected the text printed by "ctr images ls", got a %s' % type(text).__name__)
    references = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        first = line.split()[0]
        if first == "REF":
            continue
        # Images imported without a name are listed by digest alone; they cannot match a reference.
        if first.startswith("sha256:"):
            continue
        # containerd lists every named image in its full form, registry first: a first word without a
        # slash (an error message, another table) is not a row of this list.
        if not _FULL_REFERENCE.match(first):
            raise ImageListError("line %d of the image list is not an image reference: %r" % (number, raw))
        references.append(first)
    return references


def has_image(text, reference):
    """True when the image list ``text`` holds ``reference`` (both compared in their full form)."""
    wanted = normalize_reference(reference)
    return any(normalize_reference(found) == wanted for found in parse_image_list(text))


def nodes_missing(outputs_by_node, reference):
    """The nodes (keys of ``outputs_by_node``, in its order) whose image list lacks ``reference``."""
    if not isinstance(outputs_by_node, dict):
        raise ImageListError(
            "expected a mapping of node name to its image list, got a %s" % type(outputs_by_node).__name__
        )
    missing = []
    for node, text in outputs_by_node.items():
        try:
            present = has_image(text, reference)
        except ImageListError as exc:
            raise ImageListError("node %s: %s" % (node, exc)) from exc
        if not present:
            missing.append(node)
    return missing


def references_in_repository(text, repository):
    """The references of the image list that belong to ``repository`` (any tag or digest), in full form."""
    wanted = normalize_reference(repository + ":x").rsplit(":", 1)[0]
    found = []
    for reference in parse_image_list(text):
        full = normalize_reference(reference)
        name = full.split("@", 1)[0]
        name = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
        if name == wanted and full not in found:
            found.append(full)
    return found
