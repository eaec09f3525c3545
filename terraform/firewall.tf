# Ingress is denied by default in a custom network; these rules are the only ways in.
locals {
  node_tag = "${var.name_prefix}-node"
}

resource "google_compute_firewall" "admin" {
  name        = "${var.name_prefix}-allow-admin"
  description = "SSH and the Kubernetes API, from admin_cidrs only."
  network     = google_compute_network.cluster.id
  direction   = "INGRESS"

  allow {
    protocol = "tcp"
    ports    = ["22", "16443"]
  }

  source_ranges = var.admin_cidrs
  target_tags   = [local.node_tag]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "web" {
  #checkov:skip=CKV_GCP_106:Port 80 is the public entry point of the service: Kong answers there (and redirects to 443 once TLS is set up).
  name        = "${var.name_prefix}-allow-web"
  description = "HTTP and HTTPS to Kong, from anywhere: this is the public service."
  network     = google_compute_network.cluster.id
  direction   = "INGRESS"

  allow {
    protocol = "tcp"
    ports    = ["80", "443"]
  }

  source_ranges = ["0.0.0.0/0"]
  target_tags   = [local.node_tag]
}

resource "google_compute_firewall" "internal" {
  name        = "${var.name_prefix}-allow-internal"
  description = "Everything between the nodes: microk8s datastore, kubelet, Calico VXLAN, MetalLB."
  network     = google_compute_network.cluster.id
  direction   = "INGRESS"

  allow {
    protocol = "all"
  }

  source_tags = [local.node_tag]
  target_tags = [local.node_tag]
}
