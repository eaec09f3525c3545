# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the microk8s role for real with ansible-playbook, against three local "nodes".

The snap store is unreachable, so the install step is skipped, ufw is not installed (the firewall step
only reads its status), and microk8s itself is fake_microk8s.py (one shared cluster state). Everything else
is real: preflight on this host's facts, the join decisions, token hand-over, the microk8s_addon module and the
kubeconfig rewriting. The second run must report zero changes and join nobody again.
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


@pytest.fixture
def lab(tmp_path):
    """Inventory, playbook, per-node fake microk8s wrappers and the cluster state of a new three-node lab."""
    state = tmp_path / "cluster.json"
    state.write_text(
        json.dumps(
            {
                "nodes": {"node1": NODES["node1"]},
                "enabled": ["core/dns", "core/ha-cluster", "core/helm", "core/helm3"],
                "tokens": [],
                "spares": [],
                "calls": [],
            }
        )
    )
    for name, ip in NODES.items():
        wrapper = tmp_path / ("microk8s-" + name)
        wrapper.write_text(
            '#!/bin/sh\nexec "%s" "%s" "%s" "%s" "%s" "%s" "$@"\n'
            % (sys.executable, os.path.join(HERE, "fake_microk8s.py"), state, name, ip, FIXTURE)
        )
        wrapper.chmod(0o755)
    for name in NODES:
        cni = tmp_path / name / "snap" / "args" / "cni-network" / "cni.yaml"
        cni.parent.mkdir(parents=True)
        cni.write_text(CNI_EXCERPT)
    hosts = {
        name: {
            "node_ip": ip,
            "ansible_host": "203.0.113.%d" % (i + 1),
            "microk8s_user_kubeconfig": str(tmp_path / name / ".kube" / "config"),
        }
        for i, (name, ip) in enumerate(sorted(NODES.items()))
    }
    inventory = {
        "all": {
            "children": {
                "microk8s": {
                    "hosts": hosts,
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": sys.executable,
                        # Running as root already, with no sudo here: the tasks' `become` must not ask for it.
                        "ansible_become": False,
                        "microk8s_kubeconfig_local_path": str(tmp_path / "artifacts" / "kubeconfig"),
                    },
                }
            }
        }
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
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
            }
        )
    )
    return tmp_path


def play(lab, *extra):
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCAL_TEMP=str(lab / "tmp"),
        ANSIBLE_HOME=str(lab / "ansible-home"),
    )
    proc = subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-i",
            str(lab / "hosts.yml"),
            str(lab / "site.yml"),
            "-e",
            "@" + str(lab / "extra.json"),
            "--skip-tags",
            "microk8s_install",
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


def recap(output):
    return {
        m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
        for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", output, re.MULTILINE)
    }


def calls(lab, verb):
    return [call for call in json.loads((lab / "cluster.json").read_text())["calls"] if call[1] == verb]


def applied(lab):
    return [call for call in calls(lab, "kubectl") if call[2] == "apply"]


def test_first_run_forms_the_cluster_and_the_second_changes_nothing(lab):
    rc, output = play(lab)
    assert rc == 0, output
    state = json.loads((lab / "cluster.json").read_text())
    assert state["nodes"] == NODES
    assert sorted(call[0] for call in calls(lab, "join")) == ["node2", "node3"]
    assert all(call[2] == "192.0.2.11:25000/" + call[2].split("/", 1)[1] for call in calls(lab, "join"))
    assert len(calls(lab, "add-node")) == 2 and state["tokens"] == []
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
