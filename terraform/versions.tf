terraform {
  # 1.9 is the first release whose validation blocks may refer to other variables (zone vs region).
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
  }

  # State stays in terraform.tfstate here (git-ignored) unless you copy backend.tf.example to
  # backend.tf: teams should keep state in a GCS bucket so two people never apply from stale state.
}

provider "google" {
  project = var.project_id
  region  = var.region
  zone    = var.zone
}
