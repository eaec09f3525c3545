# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the microk8s role and playbooks/upgrade.yml for real with ansible-playbook, against three local "nodes".

The snap store is unreachable, so the install step (apt, the snap itself) and the pinned client's venv are
skipped; microk8s is fake_microk8s.py and snap, systemctl and ufw are fake_host_tools.py, all on one shared
cluster state that logs every call. Each node's tools know which node they serve through its own
ansible_shell_executable (a /bin/sh that sets FAKE_NODE). Everything else is real: preflight on this host's
facts, the channel guard, the certificate template and its reissue, the join decisions, token hand-over, the
ufw module's commands, the microk8s_addon module, the kubeconfig rewriting and upgrade.yml's checks and order.
"""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
REPO = os.path.abspath(os.path.join(COLLECTION, "..", "..", "..", ".."))
FIXTURE = os.path.join(HERE, "..", "..", "plugins", "modules", "fixtures", "status_fresh_1.32.txt")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
# The calico-node container's environment as microk8s writes it into args/cni-network/cni.yaml.
CNI_EXCERPT = """          env:
            # Auto-detect the BGP IP address.
            - name: IP
              value: "autodetect"
            - name: IP_AUTODETECTION_METHOD
              value: "can-reach=10.0.2.15"
            # Enable IPIP
"""
NODES = {"node1": "192.0.2.11", "node2": "192.0.2.12", "node3": "192.0.2.13"}


CSR_TEMPLATE = "[ alt_names ]\nDNS.1 = kubernetes\nIP.1 = 127.0.0.1\n#MOREIPS\n"


def make_lab(tmp_path, in_cluster=("node1",), hosts=tuple(NODES), channel="1.35/stable"):
    """Inventory, playbook, per-node fakes and the cluster state: `in_cluster` already form the cluster, every node
    of `hosts` has the snap installed (the skipped install step's work) and is in the inventory."""
    state = tmp_path / "cluster.json"
    state.write_text(
        json.dumps(
            {
                "nodes": {name: NODES[name] for name in in_cluster},
                "enabled": ["core/dns", "core/ha-cluster", "core/helm", "core/helm3"],
                "spares": [],
                "calls": [],
                "snap": {name: {"channel": channel, "held": True} for name in NODES},
            }
        )
    )
    tools = tmp_path / "bin"
    tools.mkdir(exist_ok=True)
    for tool in ("snap", "systemctl", "ufw"):
        wrapper = tools / tool
        wrapper.write_text(
            '#!/bin/sh\nexec "%s" "%s" %s "$@"\n' % (sys.executable, os.path.join(HERE, "fake_host_tools.py"), tool)
        )
        wrapper.chmod(0o755)
    for name, ip in NODES.items():
        wrapper = tmp_path / ("microk8s-" + name)
        wrapper.write_text(
            '#!/bin/sh\nexec "%s" "%s" "%s" "%s" "%s" "%s" "$@"\n'
            % (sys.executable, os.path.join(HERE, "fake_microk8s.py"), state, name, ip, FIXTURE)
        )
        wrapper.chmod(0o755)
        shell = tmp_path / ("sh-" + name)
        shell.write_text('#!/bin/sh\nFAKE_NODE=%s exec /bin/sh "$@"\n' % name)
        shell.chmod(0o755)
        if len(in_cluster) > 1 and name in in_cluster:
            # What microk8s' join leaves on both ends: certificates are no longer reissued by the kicker.
            (tmp_path / name / "snap" / "var" / "lock").mkdir(parents=True)
            (tmp_path / name / "snap" / "var" / "lock" / "no-cert-reissue").touch()
        cni = tmp_path / name / "snap" / "args" / "cni-network" / "cni.yaml"
        if not cni.exists():
            cni.parent.mkdir(parents=True)
            cni.write_text(CNI_EXCERPT)
            (tmp_path / name / "snap" / "certs").mkdir(parents=True)
            (tmp_path / name / "snap" / "credentials").mkdir(parents=True)
            (tmp_path / name / "snap" / "certs" / "csr.conf.template").write_text(CSR_TEMPLATE)
    venv_python = tmp_path / "client-venv" / "bin" / "python"
    if not venv_python.exists():
        venv_python.parent.mkdir(parents=True)
        venv_python.write_text('#!/bin/sh\nexec "%s" "$@"\n' % sys.executable)
        venv_python.chmod(0o755)
    write_inventory(tmp_path, hosts)
    (tmp_path / "site.yml").write_text(
        yaml.safe_dump([{"name": "microk8s", "hosts": "microk8s", "roles": [{"role": "infra.comments.microk8s"}]}])
    )
    # Extra vars outrank the role's vars/main.yml; templated per host, so each node calls its own wrapper.
    (tmp_path / "extra.json").write_text(
        json.dumps(
            {
                "microk8s_bin": str(tmp_path) + "/microk8s-{{ inventory_hostname }}",
                "microk8s_snap_data": str(tmp_path) + "/{{ inventory_hostname }}/snap",
                # The HA wait's pause between status reads, shortened: the fake promotes the third voter at once.
                "microk8s_ha_wait_delay": 1,
                "microk8s_cert_kicker_delay": 1,
                # The pinned client's venv is not built here (its step is skipped); a stand-in that runs this Python,
                # so the switch of interpreter after it (tasks/interpreter.yml) is made and every later task uses it.
                "microk8s_kubernetes_client_python": str(venv_python),
            }
        )
    )
    return tmp_path


def write_inventory(lab, hosts):
    inventory_hosts = {
        name: {
            "node_ip": NODES[name],
            "ansible_host": "203.0.113.%d" % (sorted(NODES).index(name) + 1),
            "ansible_shell_executable": str(lab / ("sh-" + name)),
            "microk8s_user_kubeconfig": str(lab / name / ".kube" / "config"),
        }
        for name in hosts
    }
    inventory = {
        "all": {
            "children": {
                "microk8s": {
                    "hosts": inventory_hosts,
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": sys.executable,
                        # Running as root already, with no sudo here: the tasks' `become` must not ask for it.
                        "ansible_become": False,
                        "microk8s_kubeconfig_local_path": str(lab / "artifacts" / "kubeconfig"),
                    },
                }
            }
        }
    }
    (lab / "hosts.yml").write_text(yaml.safe_dump(inventory))


@pytest.fixture
def lab(tmp_path):
    """A new three-node lab: node1 runs microk8s alone, node2 and node3 are installed and not joined."""
    return make_lab(tmp_path)


def play(lab, *extra, playbook=None):
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCAL_TEMP=str(lab / "tmp"),
        ANSIBLE_HOME=str(lab / "ansible-home"),
        ANSIBLE_PIPELINING="1",
        FAKE_STATE=str(lab / "cluster.json"),
        PATH=str(lab / "bin") + os.pathsep + os.environ["PATH"],
    )
    proc = subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-i",
            str(lab / "hosts.yml"),
            playbook or str(lab / "site.yml"),
            "-e",
            "@" + str(lab / "extra.json"),
            "--skip-tags",
            "microk8s_install,microk8s_kubernetes_client",
        ]
        + list(extra),
        cwd=str(lab),
        env=env,
        check=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout


def state_of(lab):
    return json.loads((lab / "cluster.json").read_text())


def set_state(lab, **changes):
    """Change the fake cluster's state before a run (a failure to play, a node down, ufw on)."""
    state = state_of(lab)
    state.update(changes)
    (lab / "cluster.json").write_text(json.dumps(state))


def recap(output):
    return {
        m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
        for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", output, re.MULTILINE)
    }


def calls(lab, verb):
    return [call for call in state_of(lab)["calls"] if call[1] == verb]


def applied(lab):
    return [call for call in calls(lab, "kubectl") if call[2] == "apply"]


def test_first_run_forms_the_cluster_and_the_second_changes_nothing(lab):
    set_state(lab, ufw_active=True)
    rc, output = play(lab)
    assert rc == 0, output
    state = json.loads((lab / "cluster.json").read_text())
    assert state["nodes"] == NODES
    assert sorted(call[0] for call in calls(lab, "join")) == ["node2", "node3"]
    assert all(call[2] == "192.0.2.11:25000/" + call[2].split("/", 1)[1] for call in calls(lab, "join"))
    # Single-use tokens: made without a TTL, each consumed by its join (a TTL would leave it reusable).
    assert [call[1:] for call in calls(lab, "add-node")] == [["add-node", "--format", "token-check"]] * 2
    assert (lab / "node1" / "snap" / "credentials" / "cluster-tokens.txt").read_text() == ""
    # Three nodes: the first one waits until the datastore has three voters. The third joined as a spare, so the
    # first read sees two voters and one retry follows (a check of ha_enabled alone would not wait).
    ha_wait = "Wait for microk8s to be ready with a highly available control plane"
    assert output.count("FAILED - RETRYING: [node1]: %s" % ha_wait) == 1, output
    assert re.search(re.escape(ha_wait) + r"\] \*+\n(?:(?:skipping|FAILED - RETRYING): .*\n)*ok: \[node1\]", output), (
        output
    )
    # Addons run once, on the first node, only for those not already enabled.
    assert [call[:3] for call in calls(lab, "enable")] == [
        ["node1", "enable", "core/hostpath-storage"],
        ["node1", "enable", "core/metrics-server"],
    ]
    assert set(state["enabled"]) >= {"core/dns", "core/hostpath-storage", "core/helm3", "core/metrics-server"}

    # Calico uses each node's InternalIP; the first node applies the DaemonSet once.
    for name in NODES:
        assert (lab / name / "snap" / "args" / "cni-network" / "cni.yaml").read_text() == CNI_EXCERPT.replace(
            "can-reach=10.0.2.15", "kubernetes-internal-ip"
        )
    cni_node1 = str(lab / "node1" / "snap" / "args" / "cni-network" / "cni.yaml")
    assert applied(lab) == [["node1", "kubectl", "apply", "-f", cni_node1]]
    # Applied and rolled out before the first join (calico-node on joined nodes starts with it), and awaited again
    # once the joined nodes run theirs.
    log = state["calls"]
    first_join = next(i for i, call in enumerate(log) if call[1] == "join")
    apply_at = log.index(["node1", "kubectl", "apply", "-f", cni_node1])
    rollouts = [
        i for i, call in enumerate(log) if call[1:6] == ["kubectl", "--namespace", "kube-system", "rollout", "status"]
    ]
    assert apply_at < rollouts[0] < first_join < rollouts[1] and len(rollouts) == 2, log

    # Once the client's Python exists, every node's later tasks run with it.
    switch = "Run the rest of the play's tasks on this node with the pinned Kubernetes client's Python."
    assert re.search(re.escape(switch) + r"\] \*+\n(?:ok: \[node\d\]\n){3}", output), output
    # Not yet clustered when the SAN (ansible_host) was added: microk8s' apiservice-kicker reissued each node's
    # certificate and restarted kubelite; the role waited for that restart and reissued nothing itself.
    assert calls(lab, "refresh-certs") == []
    assert set(state["kubelite"]) == set(NODES) and "run-0" not in state["kubelite"].values()
    template = (lab / "node2" / "snap" / "certs" / "csr.conf.template").read_text()
    assert template == CSR_TEMPLATE + (
        "# BEGIN infra.comments.microk8s extra SANs\nIP.101 = 203.0.113.2\n# END infra.comments.microk8s extra SANs\n"
    )
    check_ufw_rules(state["ufw"]["node2"])

    controller = yaml.safe_load((lab / "artifacts" / "kubeconfig").read_text())
    assert controller["clusters"][0]["cluster"]["server"] == "https://203.0.113.1:16443"
    assert oct((lab / "artifacts" / "kubeconfig").stat().st_mode & 0o777) == "0o600"
    for name, ip in NODES.items():
        node = yaml.safe_load((lab / name / ".kube" / "config").read_text())
        assert node["clusters"][0]["cluster"]["server"] == "https://%s:16443" % ip

    rc, output = play(lab)
    assert rc == 0, output
    assert {host: counts["changed"] for host, counts in recap(output).items()} == dict.fromkeys(NODES, 0), output
    assert len(calls(lab, "join")) == 2 and len(calls(lab, "add-node")) == 2 and len(calls(lab, "enable")) == 2
    assert applied(lab) == [["node1", "kubectl", "apply", "-f", cni_node1]]
    assert calls(lab, "refresh-certs") == []


def test_check_mode_on_a_new_lab_changes_nothing(lab):
    rc, output = play(lab, "--check")
    assert rc == 0, output
    state = json.loads((lab / "cluster.json").read_text())
    assert state["nodes"] == {"node1": NODES["node1"]}
    assert calls(lab, "enable") == [] and calls(lab, "join") == []
    assert not (lab / "artifacts" / "kubeconfig").exists()
    assert (lab / "node2" / "snap" / "args" / "cni-network" / "cni.yaml").read_text() == CNI_EXCERPT


def test_a_wrong_variable_fails_before_any_change(lab):
    rc, output = play(lab, "-e", '{"microk8s_addons": [{"name": "dns", "state": "on"}]}')
    assert rc != 0
    # ansible-core's own wording for a value outside an option's choices, naming the option and its list.
    assert "value of state must be one of: enabled, disabled, got: on found in microk8s_addons" in output, output
    assert "Validating arguments against arg spec" in output, output
    assert json.loads((lab / "cluster.json").read_text())["calls"] == []


def changed(output):
    return {host: counts["changed"] for host, counts in recap(output).items()}


def test_nodes_added_to_a_running_one_node_cluster_join_and_nothing_else_changes(tmp_path):
    """LAB_NODES=3 over a running one-node lab: only node2 and node3 join; node1 is never set up again."""
    lab = make_lab(tmp_path, hosts=("node1",))
    rc, output = play(lab)
    assert rc == 0, output
    assert state_of(lab)["nodes"] == {"node1": NODES["node1"]} and calls(lab, "join") == []
    before = len(state_of(lab)["calls"])
    kubelite_node1 = state_of(lab)["kubelite"]["node1"]

    write_inventory(lab, tuple(NODES))
    rc, output = play(lab)
    assert rc == 0, output
    state = state_of(lab)
    assert state["nodes"] == NODES
    added = state["calls"][before:]
    assert [call[0] for call in added if call[1] == "join"] == ["node2", "node3"]
    # One token per joining node (made on node1: the task is delegated there, the fake logs the delegating host).
    assert len([call for call in added if call[1] == "add-node"]) == 2
    # No second initialisation of node1: it joins nobody, its Calico file and DaemonSet are not touched again, no
    # addon is enabled again, its certificate is not reissued and kubelite not restarted, its snap not refreshed.
    node1_changes = [
        call
        for call in added
        if call[0] == "node1"
        and (call[1] in ("join", "enable", "refresh-certs") or call[1:3] in (["kubectl", "apply"], ["snap", "refresh"]))
    ]
    assert node1_changes == [], node1_changes
    assert state["kubelite"]["node1"] == kubelite_node1
    # The tokens made on node1 count as the joining nodes' changes (delegated tasks): node1 itself changed nothing.
    assert changed(output)["node1"] == 0, output
    # The three-node control plane is awaited (HA), then a run on the grown cluster changes nothing.
    assert "Wait for microk8s to be ready with a highly available control plane" in output
    rc, output = play(lab)
    assert rc == 0, output
    assert changed(output) == dict.fromkeys(NODES, 0), output


def test_a_failed_join_revokes_its_token(tmp_path):
    # Two nodes: no HA to wait for once the join failed.
    lab = make_lab(tmp_path, hosts=("node1", "node2"))
    set_state(lab, join_fails=["node2"])
    rc, output = play(lab, "--tags", "microk8s_cluster")
    assert rc != 0
    assert "node2 could not join the cluster of node1 (192.0.2.11:25000)" in output, output
    assert "Its token was revoked" in output
    assert len(calls(lab, "add-node")) == 1 and "node2" not in state_of(lab)["nodes"]
    assert (lab / "node1" / "snap" / "credentials" / "cluster-tokens.txt").read_text() == ""


def check_ufw_rules(rules):
    """node2's ufw rules: the cluster's ports from the two other nodes only, pods to the node, Calico's interfaces."""
    peer = "allow from {src} to 192.0.2.12 port {port} proto {proto} comment 'microk8s {what}'"
    expected = ["allow from any to any port 16443 proto tcp comment 'microk8s api server'"]
    for port, proto, what in [
        ("16443", "tcp", "api server"),
        ("10250", "tcp", "kubelet"),
        ("25000", "tcp", "cluster agent"),
        ("19001", "tcp", "dqlite"),
        ("4789", "udp", "calico vxlan"),
        ("7946", "tcp", "metallb memberlist"),
        ("7946", "udp", "metallb memberlist"),
        ("9100", "tcp", "node-exporter"),
    ]:
        expected += [peer.format(src=src, port=port, proto=proto, what=what) for src in ("192.0.2.11", "192.0.2.13")]
    expected += [
        "allow from 10.1.0.0/16 to 192.0.2.12 port 10250 proto tcp comment 'microk8s pods to kubelet'",
        "allow from 10.1.0.0/16 to 192.0.2.12 port 9100 proto tcp comment 'microk8s pods to node-exporter'",
    ]
    expected += [
        "allow %s on %s from any to any comment 'microk8s calico'" % (way, interface)
        for interface in ("vxlan.calico", "cali+")
        for way in ("in", "out")
    ]
    assert sorted(rules) == sorted(expected), rules


@pytest.fixture
def cluster(tmp_path):
    """Three nodes forming a cluster on 1.35/stable (each with microk8s' no-cert-reissue lock)."""
    return make_lab(tmp_path, in_cluster=tuple(NODES))


def test_a_new_san_on_a_formed_cluster_is_reissued_with_refresh_certs_one_node_at_a_time(cluster):
    # Only the certificate step (and what is tagged always): the rest of the role is the first test's.
    sans = ("-e", '{"microk8s_extra_sans": ["api.example.test"]}', "--tags", "microk8s_certs")
    rc, output = play(cluster, *sans)
    assert rc == 0, output
    # The kicker reissues nothing on a formed cluster: microk8s refresh-certs does, node after node, each followed by
    # its own wait before the next one starts.
    assert [call[0] for call in calls(cluster, "refresh-certs")] == ["node1", "node2", "node3"]
    log = state_of(cluster)["calls"]
    refreshes = [i for i, call in enumerate(log) if call[1] == "refresh-certs"]
    assert all(log[i + 1][:3] == [log[i][0], "status", "--wait-ready"] for i in refreshes), log
    assert (
        "IP.101 = 203.0.113.3\nDNS.102 = api.example.test\n"
        in (cluster / "node3" / "snap" / "certs" / "csr.conf.template").read_text()
    )
    rc, output = play(cluster, *sans)
    assert rc == 0, output
    assert changed(output) == dict.fromkeys(NODES, 0) and len(calls(cluster, "refresh-certs")) == 3, output


def test_site_refuses_to_move_a_running_cluster_to_another_channel(lab):
    rc, output = play(lab, "-e", "microk8s_channel=1.36/stable")
    assert rc != 0
    assert "microk8s on node1 tracks 1.35/stable and microk8s_channel is 1.36/stable" in output, output
    assert "Run playbooks/upgrade.yml" in output
    assert [call for call in state_of(lab)["calls"] if call[1] not in ("snap",)] == []


UPGRADE = os.path.join(REPO, "playbooks", "upgrade.yml")
UPGRADE_STEPS = {
    ("kubectl", "cordon"): "cordon",
    ("kubectl", "drain"): "drain",
    ("snap", "refresh"): "refresh",
    ("status", "--format"): "wait",
    ("kubectl", "wait"): "wait",
    ("kubectl", "uncordon"): "uncordon",
}


def upgrade_steps(lab, since=0):
    """(node, step) in call order for the calls that make an upgrade; repeated waits counted once."""
    steps = []
    for call in state_of(lab)["calls"][since:]:
        step = UPGRADE_STEPS.get(tuple(call[1:3]))
        # A channel refresh (not --hold); a wait for this node (not the check of every node before the upgrade).
        if call[1:3] == ["snap", "refresh"] and not any(arg.startswith("--channel=") for arg in call):
            continue
        if call[1:3] == ["kubectl", "wait"] and not any(arg.startswith("node/") for arg in call):
            continue
        if step:
            if steps[-1:] != [(call[0], step)]:
                steps.append((call[0], step))
    return steps


def test_upgrade_moves_one_node_at_a_time_in_order(cluster):
    rc, output = play(cluster, "-e", "microk8s_channel=1.36/stable", playbook=UPGRADE)
    assert rc == 0, output
    expected = []
    for name in ("node1", "node2", "node3"):
        expected += [(name, "cordon"), (name, "drain"), (name, "refresh"), (name, "wait"), (name, "uncordon")]
    assert upgrade_steps(cluster) == expected, state_of(cluster)["calls"]
    state = state_of(cluster)
    assert {node: snap["channel"] for node, snap in state["snap"].items()} == dict.fromkeys(NODES, "1.36/stable")
    assert state["cordoned"] == []
    drains = [call for call in state["calls"] if call[1:3] == ["kubectl", "drain"]]
    assert all("--force" not in call and "--disable-eviction" not in call for call in drains), drains
    # HA: after each refresh the node waits for three voters again.
    assert output.count("Wait for microk8s to be ready with a highly available control plane") >= 3, output
    # Again: every node is on the channel, nothing to do.
    before = len(state["calls"])
    rc, output = play(cluster, "-e", "microk8s_channel=1.36/stable", playbook=UPGRADE)
    assert rc == 0, output
    assert upgrade_steps(cluster, before) == [] and changed(output) == dict.fromkeys(NODES, 0), output


@pytest.mark.parametrize(
    "channel, words",
    [
        (
            "1.37/stable",
            ["That skips 1.36: Kubernetes upgrades one minor at a time", "microk8s_channel=1.36/stable first"],
        ),
        ("1.34/stable", ["That goes backwards"]),
    ],
)
def test_upgrade_refuses_before_touching_anything(cluster, channel, words):
    rc, output = play(cluster, "-e", "microk8s_channel=" + channel, playbook=UPGRADE)
    assert rc != 0
    assert "node1: microk8s tracks 1.35/stable and microk8s_channel is %s." % channel in output, output
    for word in words:
        assert word in output, output
    assert upgrade_steps(cluster) == [] and state_of(cluster).get("cordoned", []) == []


def test_upgrade_refuses_a_cluster_with_a_node_not_ready(cluster):
    set_state(cluster, down=["node3"])
    rc, output = play(cluster, "-e", "microk8s_channel=1.36/stable", playbook=UPGRADE)
    assert rc != 0
    assert "Not every node is Ready" in output and "nothing was changed" in output, output
    assert upgrade_steps(cluster) == []


def test_upgrade_stops_at_a_drain_the_budgets_do_not_allow(cluster):
    set_state(cluster, drain_blocked="node1")
    rc, output = play(cluster, "-e", "microk8s_channel=1.36/stable", playbook=UPGRADE)
    assert rc != 0
    assert upgrade_steps(cluster) == [("node1", "cordon"), ("node1", "drain")], upgrade_steps(cluster)
    assert "node1 (node1) could not be drained within 900 s" in output and "Nothing was refreshed" in output, output
    assert "microk8s kubectl uncordon node1" in output and "would violate the pod's disruption budget" in output


def test_upgrade_stops_at_a_node_that_does_not_come_back_and_says_what_to_do(cluster):
    set_state(cluster, refresh_breaks="node2")
    rc, output = play(cluster, "-e", "microk8s_channel=1.36/stable", playbook=UPGRADE)
    assert rc != 0
    steps = upgrade_steps(cluster)
    assert [step for step in steps if step[0] == "node3"] == [], steps
    assert steps[-1] == ("node2", "wait") and ("node1", "uncordon") in steps, steps
    assert state_of(cluster)["cordoned"] == ["node2"]
    assert "node2 (node2) did not come back after `snap refresh microk8s --channel=1.36/stable`" in output, output
    for hint in (
        "sudo journalctl -u snap.microk8s.daemon-kubelite",
        "run upgrade.yml again",
        "sudo snap revert microk8s",
    ):
        assert hint in output, output
