# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/kong/files/proxy-health-check-port.py, the Helm post-renderer, run as Helm runs it: manifests on stdin,
settings in the environment, manifests on stdout. tests/manifests/test_kong_health_check_port.py runs it under the
real helm with the real chart; here its own rules: only the proxy Service changes, only when Kubernetes has the
field (LoadBalancer, externalTrafficPolicy Local), 0 changes nothing, and every bad input fails with a message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[4] / "roles" / "kong" / "files" / "proxy-health-check-port.py"
PROXY = "kong-gateway-proxy"


def service(name, policy="Local", kind="LoadBalancer"):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "kong"},
        "spec": {"type": kind, "externalTrafficPolicy": policy, "ports": [{"name": "kong-proxy", "port": 80}]},
    }


OTHERS = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "kong-gateway"}, "spec": {"replicas": 2}},
    service("kong-gateway-admin", policy=None, kind="ClusterIP"),
]


def run(documents, port="30010", service_name=PROXY, text=None):
    env = {key: value for key, value in os.environ.items() if not key.startswith("KONG_")}
    if port is not None:
        env["KONG_PROXY_HEALTH_CHECK_NODE_PORT"] = port
    if service_name is not None:
        env["KONG_PROXY_SERVICE"] = service_name
    stdin = text if text is not None else yaml.safe_dump_all(documents)
    return subprocess.run(
        [sys.executable, str(SCRIPT)], input=stdin, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_it_pins_the_port_on_the_proxy_service_and_nothing_else():
    result = run([*OTHERS, service(PROXY)])
    assert result.returncode == 0, result.stderr
    out = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert out[:2] == OTHERS
    expected = service(PROXY)
    expected["spec"]["healthCheckNodePort"] = 30010
    assert out[2] == expected


@pytest.mark.parametrize(
    ("proxy", "port"),
    [
        (service(PROXY, policy="Cluster"), "30010"),  # Kubernetes refuses the field without policy Local
        (service(PROXY, kind="NodePort"), "30010"),  # ... or on another type
        (service(PROXY), "0"),  # 0: Kubernetes picks the port
    ],
)
def test_it_leaves_the_service_alone_where_the_field_does_not_apply(proxy, port):
    result = run([proxy], port=port)
    assert result.returncode == 0, result.stderr
    assert [d for d in yaml.safe_load_all(result.stdout) if d] == [proxy]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"documents": OTHERS}, "no Service kong-gateway-proxy in the rendered manifests"),
        ({"documents": [service(PROXY)], "port": "8080"}, "8080, outside the node port range 30000-32767"),
        ({"documents": [service(PROXY)], "port": "thirty"}, "'thirty', not a port number"),
        ({"documents": [service(PROXY)], "port": None}, "'', not a port number"),
        ({"documents": [service(PROXY)], "service_name": None}, "KONG_PROXY_SERVICE is not set"),
        ({"documents": [], "text": "kind: Service\n  bad: [indent\n"}, "the manifests Helm passed are not YAML"),
    ],
)
def test_bad_input_fails_with_a_message(kwargs, message):
    result = run(**kwargs)
    assert result.returncode == 1
    assert result.stdout == ""
    assert message in result.stderr, result.stderr
