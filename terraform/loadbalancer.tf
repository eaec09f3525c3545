# The way in for clients: a Google external passthrough Network Load Balancer (backend-service based) in front of
# every node, for TCP 80 and 443. Passthrough: packets reach a node unchanged, source and destination (the LB's
# address) included, and replies go straight back (direct server return), so Kong sees the client's real address,
# which the rate limits count by. Why this address also works inside the nodes: README.md, "The load balancer".
locals {
  # Where Google's health-check probes for external passthrough Network Load Balancers come from (backend-service
  # and target-pool based alike; 130.211.0.0/22 is the range of the proxy and internal load balancers' probes, which
  # this load balancer never uses, so it is not opened).
  nlb_health_check_ranges = ["35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"]
}

# Static, so the address clients, DNS records and the edge certificate use survives every apply, and stays the same
# when nodes are added.
resource "google_compute_address" "lb" {
  name         = "${var.name_prefix}-lb"
  description  = "Kong's public address: the load balancer in front of the nodes."
  region       = var.region
  address_type = "EXTERNAL"
  network_tier = "PREMIUM"

  depends_on = [google_project_service.required]
}

# All nodes, whatever node_count is: adding nodes adds them here, and the address above does not change.
resource "google_compute_instance_group" "nodes" {
  name        = "${var.name_prefix}-nodes"
  description = "The microk8s nodes, behind Kong's load balancer."
  zone        = var.zone
  network     = google_compute_network.cluster.id
  instances   = google_compute_instance.node[*].self_link
}

# kube-proxy serves the proxy Service's healthCheckNodePort on every node (externalTrafficPolicy Local): 200 where
# a ready Kong gateway pod runs on that node, 503 where none does (or where the only ones are terminating), whatever
# the path. So traffic only goes to nodes that can answer it, and leaves a node before its gateway pod stops (drain).
resource "google_compute_region_health_check" "kong" {
  name        = "${var.name_prefix}-kong-proxy"
  description = "kube-proxy's answer for Kong's proxy Service: does this node have a ready gateway pod?"
  region      = var.region

  check_interval_sec  = 5
  timeout_sec         = 3
  healthy_threshold   = 2
  unhealthy_threshold = 2

  http_health_check {
    port         = var.kong_proxy_health_check_node_port
    request_path = "/healthz"
  }

  log_config {
    enable = true
  }

  depends_on = [google_project_service.required]
}

resource "google_compute_region_backend_service" "kong" {
  name                  = "${var.name_prefix}-kong-proxy"
  description           = "Kong's gateways, through every node that has one."
  region                = var.region
  protocol              = "TCP"
  load_balancing_scheme = "EXTERNAL"
  health_checks         = [google_compute_region_health_check.kong.id]
  # A node that turns unhealthy (drain, upgrade) keeps its open connections this long.
  connection_draining_timeout_sec = 30

  backend {
    group          = google_compute_instance_group.nodes.self_link
    balancing_mode = "CONNECTION"
  }
}

resource "google_compute_forwarding_rule" "kong" {
  name                  = "${var.name_prefix}-kong-web"
  description           = "HTTP and HTTPS on the load balancer's address, to Kong."
  region                = var.region
  ip_address            = google_compute_address.lb.address
  ip_protocol           = "TCP"
  ports                 = ["80", "443"]
  load_balancing_scheme = "EXTERNAL"
  network_tier          = "PREMIUM"
  backend_service       = google_compute_region_backend_service.kong.id
  labels                = local.labels
}
