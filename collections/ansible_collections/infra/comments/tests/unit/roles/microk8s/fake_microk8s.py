# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in for the microk8s command, for running the role where the snap cannot be installed.

Usage: python fake_microk8s.py STATE_FILE NODE_NAME NODE_IP FIXTURE microk8s-arguments...

Every fake node shares one JSON state file (the "cluster"): its nodes, enabled addons, issued join
tokens, cordoned nodes, nodes whose microk8s is down, each node's kubelite run, and a log of every call. It
answers with the formats the real command prints. fake_host_tools.py plays snap, systemctl and ufw on the same state.
"""

import fcntl
import json
import os
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


def node_file(state_file, node, *path):
    """A file of a fake node's snap data folder (<lab>/<node>/snap/...)."""
    return os.path.join(os.path.dirname(os.path.abspath(state_file)), node, "snap", *path)


def read(path):
    with open(path) as handle:
        return handle.read()


def tokens_file(state_file, state):
    """The first node's credentials/cluster-tokens.txt, where microk8s add-node keeps join tokens."""
    return node_file(state_file, next(iter(state["nodes"])), "credentials", "cluster-tokens.txt")


def known_tokens(state_file, state):
    path = tokens_file(state_file, state)
    return read(path).split() if os.path.exists(path) else []


def restart_kubelite(state, node):
    """A new kubelite run (what systemctl show --property=InvocationID tells apart)."""
    state.setdefault("kubelite", {})[node] = "run-%s" % secrets.token_hex(4)


def kubectl(state, node, args):
    """The microk8s kubectl subcommands the roles and upgrade.yml use."""
    if args[:2] == ["get", "nodes"]:
        if "}={" in " ".join(args):  # jsonpath of name=InternalIP lines
            return 0, "".join("%s=%s\n" % item for item in sorted(state["nodes"].items()))
        return 0, "".join("%s %s " % item for item in sorted(state["nodes"].items()))
    if args[:2] == ["apply", "-f"]:
        return 0, "daemonset.apps/calico-node configured\n"
    if args[:1] == ["wait"]:
        target = args[2] if len(args) > 2 else ""
        names = sorted(state["nodes"]) if target == "node" else [target.partition("/")[2]]
        if any(name not in state["nodes"] or name in state.get("down", []) for name in names):
            return 1, "error: timed out waiting for the condition on nodes/%s\n" % ",".join(names)
        return 0, "".join("node/%s condition met\n" % name for name in names)
    if args[:1] in (["cordon"], ["uncordon"], ["drain"]) and len(args) > 1:
        name = args[1]
        if name not in state["nodes"]:
            return 1, 'Error from server (NotFound): nodes "%s" not found\n' % name
        if args[0] == "drain" and name == state.get("drain_blocked"):
            return 1, "error: Cannot evict pod as it would violate the pod's disruption budget.\n"
        cordoned = set(state.get("cordoned", []))
        (cordoned.discard if args[0] == "uncordon" else cordoned.add)(name)
        state["cordoned"] = sorted(cordoned)
        return 0, "node/%s %s\n" % (name, {"cordon": "cordoned", "uncordon": "uncordoned", "drain": "drained"}[args[0]])
    if args[:4] == ["--namespace", "kube-system", "rollout", "status"]:
        return 0, 'daemon set "calico-node" successfully rolled out\n'
    return 2, "fake microk8s: unexpected kubectl arguments %r\n" % (args,)


def answer(state, node, node_ip, fixture, args, state_file=""):
    """Return (exit code, output) for one microk8s call, updating the state."""
    if node in state.get("down", []) and args[:1] in (["status"], ["kubectl"]):
        return 1, "microk8s is not running. Use microk8s inspect for a deeper inspection.\n"
    if args[:1] == ["status"]:
        if args[1:3] == ["--format", "yaml"]:
            output = status_yaml(fixture, state["enabled"], state["nodes"], state["spares"])
            if node == next(iter(state["nodes"])):
                state["spares"] = []
            return 0, output
        if args[1:2] == ["--wait-ready"]:
            return 0, "microk8s is running\nhigh-availability: yes\n"
        return 2, "fake microk8s: only status --format yaml and --wait-ready are recorded, not %r\n" % (args,)
    if args[:1] in (["enable"], ["disable"]):
        enabled = set(state["enabled"])
        (enabled.add if args[0] == "enable" else enabled.discard)(args[1])
        state["enabled"] = sorted(enabled)
        return 0, "Addon %s is %sd\n" % (args[1], args[0])
    if args[:1] == ["kubectl"]:
        return kubectl(state, node, args[1:])
    if args[:1] == ["add-node"]:
        # As microk8s' add_token.py: --token-ttl N writes "token|expiry" into the first node's cluster-tokens.txt
        # (reusable until then), no TTL the bare token, which the cluster agent removes at its first join.
        ttl = args[args.index("--token-ttl") + 1] if "--token-ttl" in args else "-1"
        token, check = secrets.token_hex(16), secrets.token_hex(4)
        with open(tokens_file(state_file, state), "a") as handle:
            handle.write("%s\n" % token if ttl == "-1" else "%s|%s\n" % (token, ttl))
        return 0, "%s/%s\n" % (token, check)
    if args[:1] == ["join"]:
        address, _sep, token = args[1].partition("/")
        token = token.partition("/")[0]
        first_ip = sorted(state["nodes"].items())[0][1]
        stored = [line for line in known_tokens(state_file, state) if line.split("|")[0] == token]
        if address != "%s:25000" % first_ip or not stored or node in state.get("join_fails", []):
            return 1, "Connection failed. Invalid token or address (%s)\n" % args[1]
        if node in state["nodes"]:
            return 1, "This node is already part of a cluster\n"
        if "|" not in stored[0]:
            lines = [line for line in known_tokens(state_file, state) if line != stored[0]]
            with open(tokens_file(state_file, state), "w") as handle:
                handle.write("".join(line + "\n" for line in lines))
        state["nodes"][node] = node_ip
        # Both ends of a join stop reissuing certificates on their own (join.py and the cluster agent).
        for name in (node, next(iter(state["nodes"]))):
            lock = node_file(state_file, name, "var", "lock", "no-cert-reissue")
            os.makedirs(os.path.dirname(lock), exist_ok=True)
            open(lock, "a").close()
        if len(state["nodes"]) == 3:
            state["spares"] = [node]
        return 0, "Contacting cluster at %s\nSuccessfully joined the cluster.\n" % first_ip
    if args == ["config"]:
        return 0, KUBECONFIG + "\n"
    if args == ["refresh-certs", "--cert", "server.crt"]:
        # microk8s' refresh_certs.py: a new server certificate from the current template, kubelite restarted.
        state.setdefault("rendered", {})[node] = read(node_file(state_file, node, "certs", "csr.conf.template"))
        restart_kubelite(state, node)
        return (
            0,
            "Taking a backup of the current certificates\nCreating new certificates\nRestarting service kubelite.\n",
        )
    return 2, "fake microk8s: unexpected arguments %r\n" % (args,)


def run(state_file, node, respond):
    """Record and answer one call under the state's lock: respond(state) gives (exit code, output)."""
    with open(state_file, "r+") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        state = json.load(handle)
        code, output = respond(state)
        handle.seek(0)
        handle.truncate()
        json.dump(state, handle)
    sys.stdout.write(output)
    sys.exit(code)


def main():
    state_file, node, node_ip, fixture = sys.argv[1:5]
    args = sys.argv[5:]

    def respond(state):
        state["calls"].append([node] + args)
        return answer(state, node, node_ip, fixture, args, state_file)

    run(state_file, node, respond)


if __name__ == "__main__":
    main()
