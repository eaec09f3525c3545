# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup: the image tag of the app's build context, from its version and a hash of its files."""

DOCUMENTATION = r"""
name: app_image_tag
short_description: Tag an app image by its version and the content of its build context
version_added: 0.1.0
author: infra.comments maintainers (@infra-comments)
description:
  - Reads a Docker build context on the controller and returns its tag, C(<version>-<hash>), where the version is
    C(project.version) of the context's C(pyproject.toml) and the hash is the first 12 hex digits of a SHA-256 over
    the files C(docker build) would send, honouring the context's C(.dockerignore) the way Docker reads it.
  - The C(Dockerfile) and the C(.dockerignore) are part of the hash even when the C(.dockerignore) excludes them
    (Docker reads them anyway), so a change to the build recipe is a new tag too.
  - The hash covers each file's path relative to the context and its content, in byte order of the paths, and
    nothing else (no modification times, owners or modes), so the same tree gives the same tag on every controller,
    and a changed, added, removed or renamed file gives a new one.
  - Returns one dictionary with the keys C(tag), C(version), C(digest) (the full SHA-256), C(context) (the absolute
    path) and C(files) (the context's files, relative, in hash order).
options:
  _terms:
    description:
      - The build context directory. An empty string means the C(app/) folder of the repository this collection
        is part of (C(<repository>/collections/ansible_collections/infra/comments)).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Show the tag of the app's image.
  ansible.builtin.debug:
    msg: "{{ lookup('infra.comments.app_image_tag', '').tag }}"   # 1.0.0-3f2a9c0d1b7e

- name: Tag the image built from another checkout.
  ansible.builtin.set_fact:
    app_build: "{{ lookup('infra.comments.app_image_tag', '/src/comments/app') }}"
"""

RETURN = r"""
_raw:
  description: One dictionary per term.
  type: list
  elements: dict
  contains:
    tag:
      description: C(<version>-<first 12 hex digits of digest>), a valid Docker tag.
      type: str
    version:
      description: C(project.version) from the context's C(pyproject.toml).
      type: str
    digest:
      description: Hex SHA-256 over the context's files (paths and contents).
      type: str
    context:
      description: Absolute path of the build context.
      type: str
    files:
      description: The files of the build context, relative paths, in the order they were hashed.
      type: list
      elements: str
"""

import hashlib
import os
import re

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

try:
    import tomllib
except ImportError:  # Python < 3.11; ansible-core 2.19 controllers have tomllib.
    tomllib = None

HASH_LENGTH = 12
# What Docker accepts as a tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
ALWAYS_SENT = ("Dockerfile", ".dockerignore")
# Where app/ is when this collection is the one in the repository: plugins/lookup/ -> collection -> repository.
DEFAULT_CONTEXT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", "..", "app")


def _pattern_regex(pattern):
    """Translate one cleaned .dockerignore pattern into a regular expression, as moby/patternmatcher does."""
    regex = "^"
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if i + 1 < len(pattern) and pattern[i + 1] == "*":
                i += 1
                if i + 1 < len(pattern) and pattern[i + 1] == "/":
                    i += 1
                # "**" at the end matches everything below; "**/" in between any number of folders, even none.
                regex += ".*" if i + 1 == len(pattern) else "(.*/)?"
            else:
                regex += "[^/]*"
        elif char == "?":
            regex += "[^/]"
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            regex += re.escape(pattern[i])
        elif char in ".$^+(){}|":
            regex += re.escape(char)
        else:
            # Character classes ([a-z]) pass through, as in Go's filepath.Match translation.
            regex += char
        i += 1
    return re.compile(regex + "$")


def parse_dockerignore(text):
    """Return [(compiled pattern, is_exception)] in file order, read as Docker reads .dockerignore."""
    rules = []
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        exception = pattern.startswith("!")
        if exception:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = os.path.normpath(pattern).replace(os.sep, "/")
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern.lstrip("/")
        try:
            rules.append((_pattern_regex(pattern), exception))
        except re.error as exc:
            raise ValueError(".dockerignore pattern %r is not valid: %s" % (raw, exc)) from exc
    return rules


def is_ignored(path, rules):
    """Whether the relative path is left out of the context: the last rule matching it or a parent folder wins."""
    parts = path.split("/")
    ignored = False
    for regex, exception in rules:
        if any(regex.match("/".join(parts[:depth])) for depth in range(len(parts), 0, -1)):
            ignored = not exception
    return ignored


def context_files(context):
    """The files Docker sends for ``context`` (plus the Dockerfile and .dockerignore), sorted by path bytes."""
    ignore_file = os.path.join(context, ".dockerignore")
    rules = []
    if os.path.isfile(ignore_file):
        with open(ignore_file, encoding="utf-8") as handle:
            rules = parse_dockerignore(handle.read())
    files = set()
    for folder, subfolders, names in os.walk(context):
        subfolders.sort()
        for name in names:
            full = os.path.join(folder, name)
            if not os.path.isfile(full):
                continue
            relative = os.path.relpath(full, context).replace(os.sep, "/")
            if relative in ALWAYS_SENT or not is_ignored(relative, rules):
                files.add(relative)
    return sorted(files, key=lambda path: path.encode("utf-8"))


def context_digest(context, files):
    """SHA-256 over each file's relative path and the SHA-256 of its content, in the given order."""
    digest = hashlib.sha256()
    for relative in files:
        content = hashlib.sha256()
        with open(os.path.join(context, relative), "rb") as handle:
            for block in iter(lambda: handle.read(65536), b""):
                content.update(block)
        digest.update(relative.encode("utf-8") + b"\0" + content.hexdigest().encode("ascii") + b"\n")
    return digest.hexdigest()


def app_version(context):
    path = os.path.join(context, "pyproject.toml")
    if tomllib is None:
        raise ValueError("reading %s needs Python 3.11 or later on the controller (tomllib)" % path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ValueError("cannot read %s: %s" % (path, exc.strerror)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError("%s is not valid TOML: %s" % (path, exc)) from exc
    version = data.get("project", {}).get("version")
    if not isinstance(version, str) or not version:
        raise ValueError("%s has no [project] version" % path)
    return version


def image_tag(context):
    """Everything the lookup returns, for one build context."""
    context = os.path.abspath(context)
    if not os.path.isdir(context):
        raise ValueError("the build context %s is not a directory" % context)
    if not os.path.isfile(os.path.join(context, "Dockerfile")):
        raise ValueError("the build context %s has no Dockerfile" % context)
    version = app_version(context)
    files = context_files(context)
    digest = context_digest(context, files)
    tag = "%s-%s" % (version, digest[:HASH_LENGTH])
    if not TAG_PATTERN.match(tag):
        raise ValueError(
            "the version %r in %s/pyproject.toml does not make a valid image tag (%r)" % (version, context, tag)
        )
    return {"tag": tag, "version": version, "digest": digest, "context": context, "files": files}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        results = []
        for term in terms:
            context = term if term else os.path.normpath(DEFAULT_CONTEXT)
            try:
                results.append(image_tag(context))
            except (ValueError, OSError) as exc:
                # The message already holds the cause; ansible-core would append it again (from exc).
                raise AnsibleLookupError("app_image_tag: %s" % exc) from None
        return results
