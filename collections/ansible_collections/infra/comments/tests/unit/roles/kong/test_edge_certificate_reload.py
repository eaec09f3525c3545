# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/kong/files/edge-certificate-reload.sh, run for real by /bin/sh against a fake `microk8s kubectl`.

There is no cluster here, so `microk8s` is a small script that keeps a Secret and a Deployment in a JSON file and
answers the three kubectl calls the script makes (get secret, get deployment, patch deployment) the way kubectl
does; it refuses any other call, so the script cannot do more than this test sees. What is checked is the script's
own logic: roll the gateways exactly when the certificate differs from the one they started with, and say so.
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[4] / "roles" / "kong" / "files" / "edge-certificate-reload.sh"
ANNOTATION = "infra.comments/edge-certificate-sha256"

FAKE = r"""#!PYTHON
import json, sys
state_file = "STATE"
state = json.load(open(state_file))
args = sys.argv[1:]
state["calls"].append(args)
json.dump(state, open(state_file, "w"))
assert args[:3] == ["kubectl", "--namespace", "kong"], args
verb, kind, name = args[3:6]
if verb == "get" and kind == "secret" and name == "kong-edge-tls" and args[6:] == ["-o", "jsonpath={.data.tls\\.crt}"]:
    print(state["secret"], end="")
elif verb == "get" and kind == "deployment" and name == "kong-gateway" and args[6:] == [
    "-o", "jsonpath={.spec.template.metadata.annotations.infra\\.comments/edge-certificate-sha256}"
]:
    print(state["annotations"].get("infra.comments/edge-certificate-sha256", ""), end="")
elif verb == "patch" and kind == "deployment" and name == "kong-gateway" and args[6:8] == ["--type", "merge"]:
    patch = json.loads(args[9])
    state["annotations"].update(patch["spec"]["template"]["metadata"]["annotations"])
    json.dump(state, open(state_file, "w"))
    print("deployment.apps/kong-gateway patched")
else:
    sys.exit("fake kubectl: unexpected call %r" % args)
"""


@pytest.fixture
def cluster(tmp_path):
    state = tmp_path / "state.json"
    fake = tmp_path / "microk8s"
    fake.write_text(FAKE.replace("PYTHON", sys.executable).replace("STATE", str(state)))
    fake.chmod(0o755)

    def run(secret, annotations):
        state.write_text(json.dumps({"secret": secret, "annotations": annotations, "calls": []}))
        result = subprocess.run(
            ["/bin/sh", str(SCRIPT), str(fake), "kong", "kong-edge-tls", "kong-gateway", ANNOTATION],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return result, json.loads(state.read_text())

    return run


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_rolls_the_gateways_when_the_certificate_was_renewed(cluster):
    result, state = cluster("UkVORVdFRA==", {ANNOTATION: sha256("T0xE")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("rolled")
    assert state["annotations"] == {ANNOTATION: sha256("UkVORVdFRA==")}


def test_gives_a_first_install_the_checksum(cluster):
    result, state = cluster("Rk9P", {})
    assert result.returncode == 0, result.stderr
    assert "rolled" in result.stdout
    assert state["annotations"] == {ANNOTATION: sha256("Rk9P")}


def test_does_nothing_when_the_gateways_serve_the_current_certificate(cluster):
    result, state = cluster("Rk9P", {ANNOTATION: sha256("Rk9P")})
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert [call[3] for call in state["calls"]] == ["get", "get"]


def test_fails_clearly_before_cert_manager_issued_the_certificate(cluster):
    result, state = cluster("", {})
    assert result.returncode == 1
    assert "no certificate in kong/kong-edge-tls yet" in result.stderr
    assert [call[3] for call in state["calls"]] == ["get"]


def test_refuses_a_wrong_number_of_arguments():
    result = subprocess.run(
        ["/bin/sh", str(SCRIPT), "microk8s"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr
