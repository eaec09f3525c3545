#!/bin/sh
# Rolls Kong's gateways when cert-manager has renewed the edge certificate they serve as their default certificate.
# Kong reads that file (the mounted Secret) only when it starts; the gateway pod template's annotation ANNOTATION
# holds the sha256 of the certificate the pods started with. When the Secret holds another one, the annotation is
# changed, which is a rolling restart (PodDisruptionBudget and all). Installed by the kong role (tasks/reload.yml),
# run hourly by a systemd timer and once by the role. Prints "rolled" when it rolled the gateways.
#   edge-certificate-reload.sh MICROK8S NAMESPACE SECRET DEPLOYMENT ANNOTATION
set -eu

if [ "$#" -ne 5 ]; then
  echo "usage: $0 MICROK8S NAMESPACE SECRET DEPLOYMENT ANNOTATION" >&2
  exit 2
fi
microk8s=$1
namespace=$2
secret=$3
deployment=$4
annotation=$5

kubectl() {
  "$microk8s" kubectl --namespace "$namespace" "$@"
}

certificate=$(kubectl get secret "$secret" -o 'jsonpath={.data.tls\.crt}')
if [ -z "$certificate" ]; then
  echo "no certificate in $namespace/$secret yet: cert-manager has not issued it" >&2
  exit 1
fi
wanted=$(printf '%s' "$certificate" | sha256sum | cut -d ' ' -f 1)
# jsonpath needs the dots of the annotation's name escaped.
escaped=$(printf '%s' "$annotation" | sed 's/\./\\./g')
started=$(kubectl get deployment "$deployment" -o "jsonpath={.spec.template.metadata.annotations.$escaped}")
if [ "$wanted" != "$started" ]; then
  kubectl patch deployment "$deployment" --type merge \
    -p "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"$annotation\":\"$wanted\"}}}}}"
  echo rolled
fi
