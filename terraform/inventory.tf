# The Ansible inventory of the GCP path, as the output `ansible_inventory` (outputs.tf): `make gcp-up` writes it to
# inventories/gcp/hosts.yml, so `ansible-playbook -i inventories/gcp playbooks/site.yml` needs nothing else. The module
# writes no file itself: where the inventory goes is the repository's layout, not the module's business, and the
# hashicorp/local provider is not needed. The first node creates the cluster; MetalLB's pool is its internal IP
# (inventories/gcp/group_vars), which Google's NAT maps to its static external IP.
locals {
  ansible_inventory = templatefile("${path.module}/templates/hosts.yml.tftpl", {
    nodes = [
      for node in google_compute_instance.node : {
        name        = node.name
        external_ip = node.network_interface[0].access_config[0].nat_ip
        internal_ip = node.network_interface[0].network_ip
      }
    ]
    ssh_user             = var.ssh_user
    ssh_private_key_file = pathexpand(local.ssh_private_key_path)
  })
}
