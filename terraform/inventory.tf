# The Ansible inventory of the GCP path, as the output `ansible_inventory` (outputs.tf): `make gcp-up` writes it to
# inventories/gcp/hosts.yml, so `ansible-playbook -i inventories/gcp playbooks/site.yml` needs nothing else. The module
# writes no file itself: where the inventory goes is the repository's layout, not the module's business, and the
# hashicorp/local provider is not needed. The first node creates the cluster; MetalLB's pool is the load balancer's
# address (inventories/gcp/group_vars), which the load balancer delivers to the nodes unchanged.
locals {
  ansible_inventory = templatefile("${path.module}/templates/hosts.yml.tftpl", {
    nodes = [
      for node in google_compute_instance.node : {
        name        = node.name
        external_ip = node.network_interface[0].access_config[0].nat_ip
        internal_ip = node.network_interface[0].network_ip
      }
    ]
    ssh_user               = var.ssh_user
    ssh_private_key_file   = pathexpand(local.ssh_private_key_path)
    load_balancer_address  = google_compute_address.lb.address
    backups_gcs_bucket     = google_storage_bucket.backups.name
    backups_retention_days = var.backups_retention_days
  })
}
