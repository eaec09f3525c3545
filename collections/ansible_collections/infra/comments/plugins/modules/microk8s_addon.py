#!/usr/bin/python
# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
---
module: microk8s_addon
short_description: Enable or disable a microk8s addon idempotently
version_added: 0.1.0
description:
  - Reads C(microk8s status --format yaml) and runs C(microk8s enable) or C(microk8s disable) only when the
    addon is not already in the requested state, so C(changed) tells the truth.
  - Addon names may carry their repository, as in C(core/dns) or C(community/argocd); a bare name must exist in
    exactly one repository.
  - Arguments are passed to the addon's enable script the way C(microk8s enable NAME ARG...) passes them.
    They are used only when the addon is enabled by this task; an addon that is already enabled is left as it is.
  - Fails with a clear message when the C(microk8s) command is missing or microk8s is not running.
author:
  - infra.comments maintainers (@infra-comments)
options:
  name:
    description:
      - Addon name, optionally prefixed with its repository (C(REPOSITORY/NAME)).
    type: str
    required: true
  state:
    description:
      - Whether the addon should be enabled or disabled.
    type: str
    choices: [enabled, disabled]
    default: enabled
  args:
    description:
      - Arguments given to the addon when it is enabled, each one a separate command-line word
        (for example C(['10.0.0.1-10.0.0.5']) for C(metallb)).
      - Ignored when O(state=disabled).
    type: list
    elements: str
    default: []
  microk8s_cmd:
    description:
      - The microk8s command, looked up on E(PATH) and in C(/snap/bin) when not absolute.
    type: str
    default: microk8s
  timeout:
    description:
      - Seconds to wait for microk8s to be ready before reading its status (C(microk8s status --wait-ready --timeout)).
    type: int
    default: 120
attributes:
  check_mode:
    support: full
    description: Reports what would change without running C(microk8s enable) or C(microk8s disable).
  diff_mode:
    support: full
    description: Shows the addon's status before and after.
notes:
  - Must run as a user allowed to run microk8s (root or a member of the C(microk8s) group).
seealso:
  - name: MicroK8s addons
    description: The list of addons and their arguments.
    link: https://microk8s.io/docs/addons
"""

EXAMPLES = r"""
- name: Ensure DNS is enabled.
  infra.comments.microk8s_addon:
    name: dns
  become: true

- name: Ensure MetalLB is enabled with an address range.
  infra.comments.microk8s_addon:
    name: core/metallb
    args:
      - 192.168.56.240-192.168.56.250
  become: true

- name: Ensure the dashboard is disabled.
  infra.comments.microk8s_addon:
    name: dashboard
    state: disabled
  become: true
"""

RETURN = r"""
addon:
  description: The addon as microk8s reports it after the task (before it, in check mode when nothing ran).
  returned: success
  type: dict
  sample:
    name: dns
    repository: core
    description: CoreDNS
    version: 1.9.3
    status: enabled
cmd:
  description: The microk8s command that was run, or would have been run in check mode; empty when nothing was needed.
  returned: success
  type: list
  elements: str
  sample: [/snap/bin/microk8s, enable, core/dns]
stdout:
  description: Output of the enable or disable command.
  returned: when a command ran
  type: str
stderr:
  description: Error output of the enable or disable command.
  returned: when a command ran
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.infra.comments.plugins.module_utils.microk8s_snap import SNAP_BIN_DIR
from ansible_collections.infra.comments.plugins.module_utils.microk8s_status import (
    StatusParseError,
    find_addon,
    parse_status,
    qualified_name,
)

_ACTIONS = {"enabled": "enable", "disabled": "disable"}


def read_status(module, microk8s, timeout):
    cmd = [microk8s, "status", "--format", "yaml", "--wait-ready", "--timeout", str(timeout)]
    rc, out, err = module.run_command(cmd)
    if rc != 0:
        module.fail_json(
            msg='"%s" failed (rc=%d); is microk8s installed and running, and may this user run it '
            "(root or the microk8s group)?" % (" ".join(cmd), rc),
            rc=rc,
            stdout=out,
            stderr=err,
            cmd=cmd,
        )
    try:
        status = parse_status(out)
    except StatusParseError as exc:
        said = next((line.strip() for line in out.splitlines() if line.strip()), "nothing")
        module.fail_json(
            msg="cannot read the microk8s status (%s); microk8s said: %s" % (exc, said), stdout=out, cmd=cmd
        )
    if not status["running"]:
        module.fail_json(
            msg="microk8s is not running: %s" % (status["message"] or "no message given"), stdout=out, cmd=cmd
        )
    return status


def lookup(module, status, name):
    try:
        return find_addon(status["addons"], name)
    except (LookupError, ValueError) as exc:
        module.fail_json(msg=str(exc))


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="enabled", choices=list(_ACTIONS)),
            args=dict(type="list", elements="str", default=[]),
            microk8s_cmd=dict(type="str", default="microk8s"),
            timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] < 1:
        module.fail_json(msg="timeout must be a positive number of seconds, got %d" % params["timeout"])

    microk8s = module.get_bin_path(params["microk8s_cmd"], opt_dirs=[SNAP_BIN_DIR])
    if microk8s is None:
        module.fail_json(
            msg='the "%s" command was not found on PATH or in %s; install the microk8s snap first'
            % (params["microk8s_cmd"], SNAP_BIN_DIR)
        )

    before = lookup(module, read_status(module, microk8s, params["timeout"]), params["name"])
    result = dict(changed=False, addon=before, cmd=[])
    if before["status"] == params["state"]:
        module.exit_json(**result)

    action = _ACTIONS[params["state"]]
    cmd = [microk8s, action, qualified_name(before)]
    if params["state"] == "enabled":
        cmd.extend(params["args"])
    result.update(
        changed=True, cmd=cmd, diff=dict(before=dict(status=before["status"]), after=dict(status=params["state"]))
    )
    if module.check_mode:
        module.exit_json(**result)

    rc, out, err = module.run_command(cmd)
    result.update(stdout=out, stderr=err)
    if rc != 0:
        module.fail_json(msg='"%s" failed (rc=%d)' % (" ".join(cmd), rc), rc=rc, **result)

    after = lookup(module, read_status(module, microk8s, params["timeout"]), qualified_name(before))
    result["addon"] = after
    if after["status"] != params["state"]:
        module.fail_json(
            msg='"%s" exited 0 but microk8s still reports the addon %s' % (" ".join(cmd), after["status"]), **result
        )
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
