# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helm post-renderer: pins the healthCheckNodePort of Kong's proxy Service.

The kong chart (3.2.0, the ingress chart's gateway) has no value for a Service's healthCheckNodePort, and Kubernetes
refuses to change the field once the Service exists, so it must be in the manifest Helm creates the Service from.
Helm pipes the rendered manifests through this program (`helm install|upgrade --post-renderer`, the kong role's
`post_renderer`); it sets spec.healthCheckNodePort on the one Service named $KONG_PROXY_SERVICE and passes every
other object through unchanged. The port is $KONG_PROXY_HEALTH_CHECK_NODE_PORT; 0 changes nothing (Kubernetes
picks a port). Kubernetes has the field only with type LoadBalancer and externalTrafficPolicy Local, and refuses it
otherwise: such a Service is left alone.

Installed by the kong role (tasks/install.yml) with the interpreter line #!/usr/bin/python3 put in front (the file
itself has none: a collection's non-module files may not name python3 there); needs PyYAML (python3-yaml on the
node). Exit 1 with a message on stderr when the Service is not in the manifests or the port is not a node port.
"""

import os
import sys

import yaml

NODE_PORTS = range(30000, 32768)


def fail(message):
    sys.stderr.write("proxy-health-check-port: %s\n" % message)
    sys.exit(1)


def settings(environ):
    """(service name, port) from the environment, or a clear error."""
    service = environ.get("KONG_PROXY_SERVICE", "")
    port_text = environ.get("KONG_PROXY_HEALTH_CHECK_NODE_PORT", "")
    if not service:
        fail("KONG_PROXY_SERVICE is not set: the name of the proxy Service to pin")
    try:
        port = int(port_text)
    except ValueError:
        fail("KONG_PROXY_HEALTH_CHECK_NODE_PORT is %r, not a port number (0 to leave it to Kubernetes)" % port_text)
    if port != 0 and port not in NODE_PORTS:
        fail("KONG_PROXY_HEALTH_CHECK_NODE_PORT is %d, outside the node port range 30000-32767" % port)
    return service, port


def pin(documents, service, port):
    """The documents with the port set on the proxy Service (when it needs one); fails when it is not there."""
    found = False
    for document in documents:
        if not isinstance(document, dict):
            continue
        if document.get("kind") == "Service" and document.get("metadata", {}).get("name") == service:
            found = True
            spec = document.setdefault("spec", {})
            if port and spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
                spec["healthCheckNodePort"] = port
    if not found:
        fail("no Service %s in the rendered manifests: nothing to pin the health-check port on" % service)
    return documents


def main():
    service, port = settings(os.environ)
    try:
        documents = [document for document in yaml.safe_load_all(sys.stdin) if document is not None]
    except yaml.YAMLError as error:
        fail("the manifests Helm passed are not YAML: %s" % error)
    yaml.safe_dump_all(pin(documents, service, port), sys.stdout, sort_keys=False, default_flow_style=False)


if __name__ == "__main__":
    main()
