variable "project_id" {
  type        = string
  description = "ID of the GCP project that holds everything (not its display name or number)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project ID: 6-30 characters, lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "GCP region of the subnet and the static IPs."
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must look like a GCP region, e.g. us-central1 or southamerica-east1."
  }
}

variable "zone" {
  type        = string
  description = "GCP zone of the VM(s); it must be inside region."
  default     = "us-central1-a"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", var.zone)) && startswith(var.zone, "${var.region}-")
    error_message = "zone must be a GCP zone inside region, e.g. us-central1-a when region is us-central1."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (network, firewall rules, VMs)."
  default     = "comments"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name_prefix))
    error_message = "name_prefix must be 1-20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "node_count" {
  type        = number
  description = "Number of VMs in the microk8s cluster: 1, or 3 or more for high availability."
  default     = 1

  validation {
    # Two nodes cost twice as much as one and still lose the datastore's quorum when either fails.
    condition     = floor(var.node_count) == var.node_count && (var.node_count == 1 || (var.node_count >= 3 && var.node_count <= 7))
    error_message = "node_count must be 1, or 3 to 7 (microk8s needs 3 nodes for high availability; 2 give no HA)."
  }
}

variable "machine_type" {
  type        = string
  description = "Machine type of each VM; the default fits microk8s, Kong, the app and the observability stack."
  default     = "e2-standard-4"

  validation {
    # The observability stack alone needs more than the 4 GiB of shared-core or 1-vCPU machines.
    condition = (
      can(regex("^[a-z][a-z0-9]*-(standard|highmem|highcpu|custom)-[0-9]+(-[0-9]+)?$", var.machine_type))
      && try(tonumber(split("-", var.machine_type)[2]) >= 2, false)
    )
    error_message = "machine_type must be a standard, highmem, highcpu or custom type with at least 2 vCPUs, e.g. e2-standard-4 (e2-micro, e2-small and e2-medium are too small)."
  }
}

variable "boot_disk_size_gb" {
  type        = number
  description = "Size of each VM's boot disk in GB (container images and metrics live there)."
  default     = 50

  validation {
    condition     = var.boot_disk_size_gb >= 20 && var.boot_disk_size_gb <= 500
    error_message = "boot_disk_size_gb must be between 20 and 500."
  }
}

variable "subnet_cidr" {
  type        = string
  description = "Private range of the subnet the nodes live in."
  default     = "10.10.0.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0)) && can(regex("^(10\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.|192\\.168\\.)", var.subnet_cidr))
    error_message = "subnet_cidr must be a private IPv4 range (RFC 1918), e.g. 10.10.0.0/24."
  }
}

variable "admin_cidrs" {
  type        = list(string)
  description = "Ranges allowed to reach SSH (22) and the Kubernetes API (16443), e.g. [\"203.0.113.10/32\"]. Required: there is no safe default."

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for cidr in var.admin_cidrs : can(cidrhost(cidr, 0))])
    error_message = "admin_cidrs must be a non-empty list of CIDR ranges such as \"203.0.113.10/32\"."
  }

  validation {
    # /8 is the widest range accepted: 0.0.0.0/0 (or 0.0.0.0/1 + 128.0.0.0/1) would put SSH and the API on the internet.
    condition     = alltrue([for cidr in var.admin_cidrs : try(tonumber(split("/", cidr)[1]) >= 8, false)])
    error_message = "admin_cidrs must not open SSH or the Kubernetes API to the internet: 0.0.0.0/0, ::/0 and any range wider than /8 are refused."
  }
}

variable "ssh_user" {
  type        = string
  description = "User created on the VMs for your SSH key; Ansible connects as this user."
  default     = "ubuntu"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.ssh_user)) && var.ssh_user != "root"
    error_message = "ssh_user must be a Linux user name (lowercase, at most 32 characters) other than root."
  }
}

variable "ssh_public_key_path" {
  type        = string
  description = "Path of the SSH public key put on the VMs through instance metadata."
  default     = "~/.ssh/id_ed25519.pub"

  validation {
    condition     = endswith(var.ssh_public_key_path, ".pub") && try(fileexists(pathexpand(var.ssh_public_key_path)), false)
    error_message = "ssh_public_key_path must name an existing public key file ending in .pub (create one with: ssh-keygen -t ed25519)."
  }
}

variable "ssh_private_key_path" {
  type        = string
  description = "Path of the matching private key, written into the Ansible inventory; empty means ssh_public_key_path without .pub."
  default     = ""
}

variable "labels" {
  type        = map(string)
  description = "Extra labels put on every VM and disk (e.g. owner, cost centre)."
  default     = {}
}

variable "kong_proxy_health_check_node_port" {
  type        = number
  description = "Node port where kube-proxy tells whether a node has a ready Kong gateway pod (the proxy Service's healthCheckNodePort), probed by the load balancer's health check. Must equal the kong role's kong_proxy_health_check_node_port (a test checks the defaults agree)."
  default     = 30010

  validation {
    # Kubernetes' default node port range; its lowest 86 ports are the static band, which
    # Kubernetes allocates from only when the rest is full, so a pinned port there is not taken first by another Service.
    condition     = floor(var.kong_proxy_health_check_node_port) == var.kong_proxy_health_check_node_port && var.kong_proxy_health_check_node_port >= 30000 && var.kong_proxy_health_check_node_port <= 32767
    error_message = "kong_proxy_health_check_node_port must be a port in Kubernetes' node port range, 30000-32767 (best 30000-30085, the band Kubernetes keeps for pinned ports)."
  }
}

variable "backups_retention_days" {
  type        = number
  description = "Days of PostgreSQL backups kept (the backups role's backups_retention_days, written into the inventory); also how long the bucket keeps a deleted or overwritten object's old version."
  default     = 30

  validation {
    condition     = floor(var.backups_retention_days) == var.backups_retention_days && var.backups_retention_days >= 1 && var.backups_retention_days <= 3650
    error_message = "backups_retention_days must be a whole number of days from 1 to 3650."
  }
}

variable "backups_bucket_name" {
  type        = string
  description = "Name of the GCS bucket for the PostgreSQL backups; empty means <project_id>-<name_prefix>-backups. Bucket names are global: pick another if that one is taken."
  default     = ""

  validation {
    # No dots: dotted names need a verified domain. "goog" prefixes and "google" are reserved by GCS.
    condition     = var.backups_bucket_name == "" || (can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.backups_bucket_name)) && !startswith(var.backups_bucket_name, "goog") && !strcontains(var.backups_bucket_name, "google"))
    error_message = "backups_bucket_name must be empty or 3-63 lowercase letters, digits, hyphens or underscores, starting and ending with a letter or digit, without \"goog\" at the start or \"google\" anywhere."
  }
}

variable "backups_bucket_force_destroy" {
  type        = bool
  description = "Whether terraform destroy (make gcp-destroy) may delete the backups bucket while it still holds backups. false: destroy stops at a non-empty bucket, so the backups outlive the cluster."
  default     = false
}
