#!/usr/bin/env bash
# Assemble the test data `make test` reads from ../shared (SHARED) on a machine that does not have
# it: the upstream CRDs and Kong chart values, at the versions listed in shared/crds/README.md.
# Usage: fetch-shared.sh DEST   (CI puts DEST beside the clone)
set -euo pipefail
dest=${1:?usage: fetch-shared.sh DEST}

fetch() {  # fetch URL PATH-UNDER-DEST
  mkdir -p "$dest/$(dirname "$2")"
  curl --fail --silent --show-error --location --retry 3 --output "$dest/$2" "$1"
}

metallb=https://raw.githubusercontent.com/metallb/metallb/v0.14.9/config/crd/bases
for kind in ipaddresspools l2advertisements bgppeers bgpadvertisements; do
  fetch "$metallb/metallb.io_$kind.yaml" "crds/metallb/metallb.io_$kind.yaml"
done

kong=https://raw.githubusercontent.com/Kong/charts
fetch "$kong/kong-3.4.1/charts/kong/crds/custom-resource-definitions.yaml" crds/kong/custom-resource-definitions.yaml
fetch "$kong/kong-3.4.1/charts/kong/values.yaml" charts/kong/kong-3.4.1-values.yaml
fetch "$kong/ingress-0.24.0/charts/ingress/values.yaml" charts/kong/ingress-0.24.0-values.yaml

operator=https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/v0.93.1/example/prometheus-operator-crd
for kind in servicemonitors podmonitors prometheusrules; do
  fetch "$operator/monitoring.coreos.com_$kind.yaml" "crds/prometheus-operator/crd-$kind.yaml"
done

echo "test data in $dest:" && find "$dest" -type f | sort
