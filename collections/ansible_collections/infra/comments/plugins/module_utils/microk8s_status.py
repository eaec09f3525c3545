# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse the output of ``microk8s status --format yaml``.

microk8s writes that output with print statements, not with a YAML emitter, so an addon
description containing ``: `` or `` #`` would not be valid YAML, and a target host need not
have PyYAML at all. This parser reads the fixed layout line by line instead:

    microk8s:
      running: True
      high-availability:
      enabled: False
      addons:
        - name: dns
          repository: core
          description: CoreDNS
          version: 1.9.3
          status: enabled

(older releases print no ``repository`` line; a stopped node prints ``message:`` and no addons).

``high-availability: enabled`` says that the node runs dqlite, the HA datastore (true on a single node too), not
that the control plane is highly available: microk8s calls it that from three voters on (``ha_cluster_formed`` in
its ``status.py``, the ``high-availability: yes`` of the plain output). ``ha_formed`` below is that count.
"""

_ADDON_FIELDS = ("name", "repository", "description", "version", "status")
_TRUE = ("true", "yes")
# microk8s' own threshold (status.py, ha_cluster_formed): more than two voters make the datastore highly available.
HA_MIN_VOTERS = 3


class StatusParseError(ValueError):
    """The text is not the output of ``microk8s status --format yaml``."""


def _split_field(line):
    key, sep, value = line.strip().partition(":")
    if not sep:
        return None, None
    return key.strip(), value.strip()


def parse_status(text):
    """Return ``{'running', 'ha_enabled', 'ha_nodes', 'ha_formed', 'addons', 'message'}``.

    ``ha_enabled`` is the node's dqlite switch; ``ha_nodes`` the datastore's nodes (address, role); ``ha_formed``
    whether at least HA_MIN_VOTERS of them are voters, i.e. the control plane is highly available. Each addon is a
    dict with the keys name, repository (None when not printed), description, version and status ('enabled' or
    'disabled').
    """
    if not text or not text.lstrip().startswith("microk8s:"):
        raise StatusParseError('expected the output of "microk8s status --format yaml" to start with "microk8s:"')

    status = {"running": None, "ha_enabled": False, "ha_nodes": [], "addons": [], "message": ""}
    section = None
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        item = line.startswith("- ")
        if item:
            line = line[2:]
        key, value = _split_field(line)
        if key is None:
            continue
        if key == "running" and section is None:
            status["running"] = value.lower() in _TRUE
        elif key == "message" and section != "addons":
            status["message"] = value
        elif key == "high-availability":
            section = "ha"
        elif key == "enabled" and section == "ha":
            status["ha_enabled"] = value.lower() in _TRUE
        elif key == "nodes" and section == "ha":
            continue
        elif key == "addons" and not value:
            section = "addons"
        elif section == "ha" and key in ("address", "role"):
            if item:
                status["ha_nodes"].append({})
            if status["ha_nodes"]:
                status["ha_nodes"][-1][key] = value
        elif section == "addons" and key in _ADDON_FIELDS:
            if item:
                current = dict.fromkeys(_ADDON_FIELDS)
                status["addons"].append(current)
            if current is not None:
                current[key] = value if value else None

    if status["running"] is None:
        raise StatusParseError('no "running:" line found in the microk8s status output')
    for addon in status["addons"]:
        if not addon["name"] or addon["status"] not in ("enabled", "disabled"):
            raise StatusParseError("an addon entry lacks a name or an enabled/disabled status: %r" % (addon,))
    voters = [node for node in status["ha_nodes"] if node.get("role") == "voter"]
    status["ha_formed"] = status["ha_enabled"] and len(voters) >= HA_MIN_VOTERS
    return status


def qualified_name(addon):
    """``core/dns`` for an addon entry that names its repository, ``dns`` for one that does not (older releases)."""
    if addon["repository"]:
        return "%s/%s" % (addon["repository"], addon["name"])
    return addon["name"]


def split_addon_name(name):
    """Split ``core/dns`` into ``('core', 'dns')``; a bare ``dns`` gives ``(None, 'dns')``."""
    repository, sep, addon = name.partition("/")
    if not sep:
        return None, name
    if not repository or not addon or "/" in addon:
        raise ValueError('addon name %r must be "NAME" or "REPOSITORY/NAME"' % (name,))
    return repository, addon


def find_addon(addons, name):
    """Return the one addon entry that ``name`` (bare or repository-prefixed) designates.

    Raises LookupError when none matches, or when a bare name exists in several repositories
    (microk8s itself refuses to guess then).
    """
    repository, addon_name = split_addon_name(name)
    matches = [a for a in addons if a["name"] == addon_name and (repository is None or a["repository"] == repository)]
    if not matches:
        known = sorted(set((a["repository"] + "/" + a["name"]) if a["repository"] else a["name"] for a in addons))
        raise LookupError(
            "addon %r is not available on this node; available addons: %s" % (name, ", ".join(known) or "none")
        )
    if len(matches) > 1:
        repos = ", ".join(sorted(a["repository"] or "?" for a in matches))
        raise LookupError(
            'addon %r exists in several repositories (%s); prefix it, e.g. "%s/%s"'
            % (name, repos, matches[0]["repository"], addon_name)
        )
    return matches[0]
