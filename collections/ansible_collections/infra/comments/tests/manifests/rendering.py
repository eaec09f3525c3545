# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render every role template the way the role would, with Ansible itself.

For each inventory, one ansible-playbook run on localhost renders every `roles/*/templates/**/*.j2`. Each role is
stood in for by a throwaway role whose defaults/, vars/, templates/, files/ and meta/argument_specs.yml are the real
ones (symlinks), so variable precedence is exactly the role's: role defaults < inventory group_vars < role vars. The
throwaway role also runs the real role's argument validation and its `tasks/validate.yml` when it has one, so a
template is only rendered from values the role itself would accept.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

COLLECTION_DIR = Path(__file__).resolve().parents[2]
REPO_ROOT = COLLECTION_DIR.parents[3]
ROLES_DIR = COLLECTION_DIR / "roles"
INVENTORIES_DIR = REPO_ROOT / "inventories"
SAMPLE_HOSTS_FILE = Path(__file__).with_name("sample_hosts.yml")


def discover_templates():
    """(role, path relative to the role's templates/) for every template any role has."""
    found = []
    for templates_dir in sorted(ROLES_DIR.glob("*/templates")):
        role = templates_dir.parent.name
        found.extend((role, path.relative_to(templates_dir).as_posix()) for path in sorted(templates_dir.rglob("*.j2")))
    return found


def discover_inventories():
    return sorted(path.name for path in INVENTORIES_DIR.iterdir() if (path / "group_vars").is_dir())


def sample_hosts(inventory):
    """Hosts standing in for a real inventory's nodes (node_ip and the like), from sample_hosts.yml."""
    samples = yaml.safe_load(SAMPLE_HOSTS_FILE.read_text())
    if inventory not in samples:
        raise KeyError(
            "inventory %s has no sample hosts in %s: add its first node(s) there" % (inventory, SAMPLE_HOSTS_FILE)
        )
    return samples[inventory]


def _link(target, link):
    if target.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)


def _stand_in_role(work, role, templates, out_dir):
    real = ROLES_DIR / role
    stand_in = work / "roles" / ("render_" + role)
    # files/ too: templates read the role's own files (the observability role's dashboards and alert rules).
    for part in ("defaults", "vars", "templates", "files", "meta/argument_specs.yml"):
        _link(real / part, stand_in / part)
    tasks = []
    if (real / "tasks" / "validate.yml").is_file():
        tasks.append(
            {
                "name": "Run the role's own checks.",
                "ansible.builtin.include_tasks": str(real / "tasks" / "validate.yml"),
            }
        )
    for template in templates:
        destination = out_dir / role / template[: -len(".j2")]
        destination.parent.mkdir(parents=True, exist_ok=True)
        tasks.append(
            {
                "name": "Render %s." % template,
                "ansible.builtin.template": {"src": template, "dest": str(destination), "mode": "0644"},
            }
        )
    (stand_in / "tasks").mkdir(parents=True)
    (stand_in / "tasks" / "main.yml").write_text(yaml.safe_dump(tasks, sort_keys=False))
    return stand_in.name


def render_inventory(inventory, work, out_dir, hosts=None, roles=None):
    """Render every template with `inventory`'s variables into out_dir/<role>/...; returns the process result.

    hosts: {name: variables} standing in for the inventory's nodes instead of its sample_hosts.yml entry (a test
    that needs another node count, such as three, passes them).
    roles: only these roles' templates (a test of a few roles under other variables renders only what it reads).
    """
    work = Path(work)
    inventory_dir = work / "inventory"
    inventory_dir.mkdir(parents=True)
    for part in ("group_vars", "host_vars"):
        _link(INVENTORIES_DIR / inventory / part, inventory_dir / part)
    hosts = {
        name: dict(variables, ansible_connection="local", ansible_python_interpreter=sys.executable)
        for name, variables in (sample_hosts(inventory) if hosts is None else hosts).items()
    }
    (inventory_dir / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"microk8s": {"hosts": hosts}}}}))

    by_role = {}
    for role, template in discover_templates():
        if roles is None or role in roles:
            by_role.setdefault(role, []).append(template)
    roles = [_stand_in_role(work, role, templates, Path(out_dir)) for role, templates in by_role.items()]
    playbook = [{"name": "Render the role templates.", "hosts": "microk8s[0]", "gather_facts": False, "roles": roles}]
    (work / "render.yml").write_text(yaml.safe_dump(playbook, sort_keys=False))

    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.environ.get("ANSIBLE_CONFIG", str(REPO_ROOT / "ansible.cfg")),
        ANSIBLE_ROLES_PATH=str(work / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
    )
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(inventory_dir / "hosts.yml"),
            str(work / "render.yml"),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def kubernetes_version():
    """The Kubernetes minor version of the pinned microk8s channel, read from the microk8s role's defaults.

    The channel's track is the Kubernetes minor version ("1.35/stable" installs Kubernetes 1.35.x).
    """
    defaults = yaml.safe_load((ROLES_DIR / "microk8s" / "defaults" / "main.yml").read_text())
    channel = str(defaults.get("microk8s_channel", ""))
    match = re.match(r"^(\d+\.\d+)(-[a-z0-9]+)?/", channel)
    if not match:
        raise ValueError(
            "microk8s_channel %r in roles/microk8s/defaults/main.yml does not start with a "
            "Kubernetes version track such as 1.35/stable" % channel
        )
    return match.group(1)
