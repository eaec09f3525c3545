# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in for the microk8s command, for running the role where the snap cannot be installed.

Usage: python fake_microk8s.py STATE_FILE NODE_NAME NODE_IP FIXTURE microk8s-arguments...

Every fake node shares one JSON state file (the "cluster"): its nodes, enabled addons, issued join
tokens and a log of every call. It answers with the formats the real command prints.
"""

import fcntl
import json
import re
import secrets
import sys

KUBECONFIG = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    server: https://10.0.2.15:16443
  name: microk8s-cluster
contexts:
- context:
    cluster: microk8s-cluster
    user: admin
  name: microk8s
current-context: microk8s
kind: Config
preferences: {}
users:
- name: admin
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo="""


def status_yaml(fixture, enabled, nodes, spares):
    """The recorded status with the cluster's datastore nodes and each addon's status from its enabled set.

    Like dqlite, the first three nodes are voters and later ones standbys; a node that has just joined as the
    third is a spare until the leader (the first node) has been asked once more, so HA is not formed at once.
    """
    with open(fixture) as handle:
        text = handle.read()
    datastore = "".join(
        "    - address: %s:19001\n      role: %s\n"
        % (ip, "spare" if name in spares else "voter" if index < 3 else "standby")
        for index, (name, ip) in enumerate(nodes.items())
    )
    text, count = re.subn(
        r"high-availability:\n  enabled: True\n  nodes:\n(?:    .*\n)*",
        "high-availability:\n  enabled: True\n  nodes:\n" + datastore,
        text,
    )
    assert count == 1, "the fixture has no high-availability block with nodes"

    def flip(match):
        name = "%s/%s" % (match.group("repo"), match.group("name"))
        return match.group("head") + ("enabled" if name in enabled else "disabled")

    return re.sub(
        r"(?P<head>- name: (?P<name>\S+)\n    repository: (?P<repo>\S+)\n(?:    .*\n)*?    status: )\w+", flip, text
    )


def answer(state, node, node_ip, fixture, args):
    """Return (exit code, output) for one microk8s call, updating the state."""
    if args[:1] == ["status"]:
        if args[1:3] == ["--format", "yaml"]:
            output = status_yaml(fixture, state["enabled"], state["nodes"], state["spares"])
            if node == next(iter(state["nodes"])):
                state["spares"] = []
            return 0, output
        return 2, "fake microk8s: only status --format yaml is recorded, not %r\n" % (args,)
    if args[:1] in (["enable"], ["disable"]):
        enabled = set(state["enabled"])
        (enabled.add if args[0] == "enable" else enabled.discard)(args[1])
        state["enabled"] = sorted(enabled)
        return 0, "Addon %s is %sd\n" % (args[1], args[0])
    if args[:3] == ["kubectl", "get", "nodes"]:
        return 0, "".join("%s %s " % item for item in sorted(state["nodes"].items()))
    if args[:3] == ["kubectl", "apply", "-f"]:
        return 0, "daemonset.apps/calico-node configured\n"
    if args[:2] == ["kubectl", "wait"]:
        return 0, "".join("node/%s condition met\n" % name for name in sorted(state["nodes"]))
    if args[:1] == ["add-node"]:
        token = "%s/%s" % (secrets.token_hex(16), secrets.token_hex(4))
        state["tokens"].append(token)
        return 0, token + "\n"
    if args[:1] == ["join"]:
        address, _sep, token = args[1].partition("/")
        first_ip = sorted(state["nodes"].items())[0][1]
        if address != "%s:25000" % first_ip or token not in state["tokens"]:
            return 1, "Connection failed. Invalid token or address (%s)\n" % args[1]
        if node in state["nodes"]:
            return 1, "This node is already part of a cluster\n"
        state["tokens"].remove(token)
        state["nodes"][node] = node_ip
        if len(state["nodes"]) == 3:
            state["spares"] = [node]
        return 0, "Contacting cluster at %s\nSuccessfully joined the cluster.\n" % first_ip
    if args == ["config"]:
        return 0, KUBECONFIG + "\n"
    return 2, "fake microk8s: unexpected arguments %r\n" % (args,)


def main():
    state_file, node, node_ip, fixture = sys.argv[1:5]
    args = sys.argv[5:]
    with open(state_file, "r+") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        state = json.load(handle)
        state["calls"].append([node] + args)
        code, output = answer(state, node, node_ip, fixture, args)
        handle.seek(0)
        handle.truncate()
        json.dump(state, handle)
    sys.stdout.write(output)
    sys.exit(code)


if __name__ == "__main__":
    main()
