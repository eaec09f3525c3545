locals {
  ssh_private_key_path = var.ssh_private_key_path != "" ? var.ssh_private_key_path : trimsuffix(var.ssh_public_key_path, ".pub")
  labels               = merge({ app = "infra-comments", managed-by = "terraform" }, var.labels)
}

data "google_compute_image" "ubuntu" {
  family  = "ubuntu-2404-lts-amd64"
  project = "ubuntu-os-cloud"
}

# The VMs run as their own account, allowed only to write logs and metrics in the project and objects in
# the backups bucket (backups.tf, granted on that bucket alone), instead of the project-wide default
# account that has Editor on everything. The VMs' scope is cloud-platform: the access token the metadata
# server hands out then carries what these IAM grants allow and nothing more (a narrower scope such as
# logging-only would refuse the bucket writes barman-cloud makes with that token).
resource "google_service_account" "node" {
  account_id   = "${var.name_prefix}-node"
  display_name = "microk8s nodes of ${var.name_prefix}"

  depends_on = [google_project_service.required]
}

resource "google_project_iam_member" "node" {
  for_each = toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.node.email}"
}

# Static, so the inventory, the kubeconfig and DNS records stay valid across VM restarts.
resource "google_compute_address" "node" {
  count = var.node_count

  name   = "${var.name_prefix}-node-${count.index + 1}"
  region = var.region

  depends_on = [google_project_service.required]
}

resource "google_compute_instance" "node" {
  #checkov:skip=CKV_GCP_40:The admins reach SSH and the Kubernetes API on these addresses (from admin_cidrs only); they also give the nodes egress without a Cloud NAT. Web traffic comes through the load balancer.
  #checkov:skip=CKV_GCP_38:Boot disks use Google-managed encryption; customer-supplied keys would have to be handed to Terraform and stored in its state.
  count = var.node_count

  name         = "${var.name_prefix}-node-${count.index + 1}"
  machine_type = var.machine_type
  zone         = var.zone
  tags         = [local.node_tag]
  labels       = local.labels

  boot_disk {
    initialize_params {
      image  = data.google_compute_image.ubuntu.self_link
      size   = var.boot_disk_size_gb
      type   = "pd-balanced"
      labels = local.labels
    }
  }

  network_interface {
    subnetwork = google_compute_subnetwork.cluster.id

    access_config {
      nat_ip = google_compute_address.node[count.index].address
    }
  }

  metadata = {
    ssh-keys = "${var.ssh_user}:${trimspace(file(pathexpand(var.ssh_public_key_path)))}"
    # Only the key above opens the VMs: no project-wide keys, no OS Login, no serial console.
    block-project-ssh-keys = "true"
    enable-oslogin         = "FALSE"
    serial-port-enable     = "false"
  }

  service_account {
    email  = google_service_account.node.email
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  # microk8s routes pod traffic itself (Calico VXLAN); the VM never forwards for other addresses.
  can_ip_forward = false

  # A new machine_type needs the VM stopped; let Terraform do it instead of failing the apply.
  allow_stopping_for_update = true

  depends_on = [google_project_iam_member.node]
}
