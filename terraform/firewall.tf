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
  description = "HTTP and HTTPS to Kong through the load balancer's address, from anywhere: this is the public service."
  network     = google_compute_network.cluster.id
  direction   = "INGRESS"

  allow {
    protocol = "tcp"
    ports    = ["80", "443"]
  }

  source_ranges = ["0.0.0.0/0"]
  # Only packets for the load balancer's address (a passthrough load balancer keeps it as their destination): the
  # nodes' own external IPs are for the admins (SSH, the API) and serve no web traffic.
  destination_ranges = ["${google_compute_address.lb.address}/32"]
  target_tags        = [local.node_tag]
}

# The load balancer's health check (loadbalancer.tf) probes kube-proxy on the proxy Service's healthCheckNodePort;
# only Google's probe ranges may reach that port.
resource "google_compute_firewall" "health_check" {
  name        = "${var.name_prefix}-allow-lb-health-check"
  description = "Google's health-check probes to kube-proxy's healthCheckNodePort of Kong's proxy Service."
  network     = google_compute_network.cluster.id
  direction   = "INGRESS"

  allow {
    protocol = "tcp"
    ports    = [tostring(var.kong_proxy_health_check_node_port)]
  }

  source_ranges = local.nlb_health_check_ranges
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
