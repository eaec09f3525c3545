output "external_ips" {
  description = "Static external IP of each node, by name."
  value       = { for node in google_compute_instance.node : node.name => node.network_interface[0].access_config[0].nat_ip }
}

output "internal_ips" {
  description = "Internal IP of each node on the cluster subnet, by name."
  value       = { for node in google_compute_instance.node : node.name => node.network_interface[0].network_ip }
}

output "ssh_commands" {
  description = "How to log in to each node."
  value       = [for node in google_compute_instance.node : "ssh -i ${pathexpand(local.ssh_private_key_path)} ${var.ssh_user}@${node.network_interface[0].access_config[0].nat_ip}"]
}

output "load_balancer_ip" {
  description = "The load balancer's static address: Kong's public address (point DNS records here)."
  value       = google_compute_address.lb.address
}

output "service_url" {
  description = "Where Kong answers once playbooks/site.yml has run (through the load balancer)."
  value       = "https://${google_compute_address.lb.address}/"
}

output "backups_bucket" {
  description = "The GCS bucket the PostgreSQL backups go to (backups_gcs_bucket in the inventory)."
  value       = google_storage_bucket.backups.name
}

output "ansible_inventory" {
  description = "The Ansible inventory of the nodes (YAML); make gcp-up writes it to inventories/gcp/hosts.yml."
  value       = local.ansible_inventory
}
