# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-ins for snap, systemctl and ufw on the fake nodes, sharing fake_microk8s.py's cluster state.

Usage: python fake_host_tools.py TOOL arguments...  with FAKE_STATE (the state file) and FAKE_NODE (the node the
task runs for: the test's playbook sets it per host) in the environment. Every call is logged in the state's
"calls" as [node, TOOL, arguments...], in the order the nodes made them.

- snap: `list microk8s` (the snap's Tracking and Notes columns), `refresh microk8s --channel=C` (a node named in
  "refresh_breaks" does not come back: its microk8s stays down), `refresh --hold|--unhold microk8s`.
- systemctl: `show --property=InvocationID --value <kubelite>`; like microk8s' apiservice-kicker, a node whose
  csr.conf.template differs from what its certificate was made from, and that has no no-cert-reissue lock, gets a
  new certificate and a new kubelite run by the time it is asked.
- ufw: `status` (active when "ufw_active"), `--version`, `status verbose` (the rules, so community.general.ufw sees
  what changed), and `[delete] allow ...`, which adds or removes the rule in the node's list.
"""

import os
import shlex
import sys

from fake_microk8s import node_file, read, restart_kubelite, run

SNAP_LIST = """Name      Version   Rev    Tracking     Publisher   Notes
microk8s  v{version}.0  8000  {channel}  canonical**  classic{held}
"""


def snap(state, node, args):
    installed = state.setdefault("snap", {}).get(node)
    if args == ["list", "microk8s"]:
        if installed is None:
            return 1, "error: no matching snaps installed\n"
        version = installed["channel"].split("/")[0]
        return 0, SNAP_LIST.format(
            version=version, channel=installed["channel"], held=",held" if installed["held"] else ""
        )
    if args[:2] == ["refresh", "microk8s"] and len(args) == 3 and args[2].startswith("--channel="):
        installed["channel"] = args[2].partition("=")[2]
        if node == state.get("refresh_breaks"):
            state.setdefault("down", []).append(node)
        return 0, "microk8s (%s) v1.x from Canonical** refreshed\n" % installed["channel"]
    if args[:1] == ["refresh"] and args[1:] in (["--hold", "microk8s"], ["--unhold", "microk8s"]):
        installed["held"] = args[1] == "--hold"
        return 0, 'General refreshes of "microk8s" %s\n' % ("held" if installed["held"] else "resumed")
    if args == ["remove", "--purge", "microk8s"]:
        state["snap"].pop(node, None)
        return 0, "microk8s removed\n"
    return 2, "fake snap: unexpected arguments %r\n" % (args,)


def systemctl(state, node, args, state_file):
    if args[:3] != ["show", "--property=InvocationID", "--value"]:
        return 2, "fake systemctl: unexpected arguments %r\n" % (args,)
    template = read(node_file(state_file, node, "certs", "csr.conf.template"))
    locked = os.path.exists(node_file(state_file, node, "var", "lock", "no-cert-reissue"))
    if state.setdefault("rendered", {}).get(node) != template and not locked:
        state["rendered"][node] = template
        restart_kubelite(state, node)
    return 0, state.setdefault("kubelite", {}).setdefault(node, "run-0") + "\n"


def ufw(state, node, args):
    rules = state.setdefault("ufw", {}).setdefault(node, [])
    if args == ["status"]:
        return 0, "Status: %s\n" % ("active" if state.get("ufw_active") else "inactive")
    if args == ["--version"]:
        return 0, "ufw 0.36.2\nCopyright 2008-2023 Canonical Ltd.\n"
    if args == ["status", "verbose"]:
        return 0, "Status: active\n\n" + "".join(rule + "\n" for rule in rules)
    delete = args[:1] == ["delete"]
    rule = " ".join(shlex.quote(word) for word in args[1 if delete else 0 :])
    if not rule.startswith("allow "):
        return 2, "fake ufw: unexpected arguments %r\n" % (args,)
    if delete and rule in rules:
        rules.remove(rule)
    elif not delete and rule not in rules:
        rules.append(rule)
    return 0, "Rule %s\n" % ("deleted" if delete else "added")


def main():
    tool, args = sys.argv[1], sys.argv[2:]
    state_file, node = os.environ["FAKE_STATE"], os.environ["FAKE_NODE"]

    def respond(state):
        state["calls"].append([node, tool] + args)
        if tool == "snap":
            return snap(state, node, args)
        if tool == "systemctl":
            return systemctl(state, node, args, state_file)
        return ufw(state, node, args)

    run(state_file, node, respond)


if __name__ == "__main__":
    main()
