# Compute Engine and IAM must be on before anything else, and Cloud Resource Manager too: the
# project IAM grants (google_project_iam_member) read and write the project's policy through it,
# and it is off in many new projects. Cloud Storage holds the backups bucket (backups.tf). They stay
# on after destroy because other things in the project may use them too.
resource "google_project_service" "required" {
  for_each = toset(["compute.googleapis.com", "iam.googleapis.com", "cloudresourcemanager.googleapis.com", "storage.googleapis.com"])

  service            = each.value
  disable_on_destroy = false
}

resource "google_compute_network" "cluster" {
  name                    = "${var.name_prefix}-network"
  description             = "Network of the microk8s cluster."
  auto_create_subnetworks = false

  depends_on = [google_project_service.required]
}

resource "google_compute_subnetwork" "cluster" {
  name          = "${var.name_prefix}-subnet"
  region        = var.region
  network       = google_compute_network.cluster.id
  ip_cidr_range = var.subnet_cidr

  # Nodes pull from Google APIs (e.g. Artifact Registry) without leaving Google's network.
  private_ip_google_access = true

  # Flow logs are the only record of who talked to the nodes; sampled at 50% to keep the cost down.
  log_config {
    aggregation_interval = "INTERVAL_5_SEC"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}
