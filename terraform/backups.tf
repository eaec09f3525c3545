# Where the PostgreSQL backups go on GCP: the Barman Cloud plugin's barman-cloud (WAL archive and base backups)
# writes to gs://<bucket>/..., authenticated as the nodes' service account through the metadata server (Application
# Default Credentials): no key exists, in git or on disk. The bucket name and the retention go into the Ansible
# inventory (backups_gcs_bucket, backups_retention_days) so the backups role uses exactly these. README.md, "Backups".
locals {
  backups_bucket = var.backups_bucket_name != "" ? var.backups_bucket_name : "${var.project_id}-${var.name_prefix}-backups"
}

resource "google_storage_bucket" "backups" {
  #checkov:skip=CKV_GCP_62:Access logs would need a second bucket for the logs; Cloud Audit Logs (admin activity, always on) record every change to the bucket and its IAM, and who may write is one service account.
  name     = local.backups_bucket
  location = upper(var.region)
  # Standard class: the WAL is written and the newest backups are read back on a restore, nothing sits unread long
  # enough for the colder classes' minimum storage durations to pay off.
  storage_class = "STANDARD"
  labels        = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # destroy stops at a bucket that still holds backups unless this is set on purpose (the backups outlive the cluster).
  force_destroy = var.backups_bucket_force_destroy

  # A deleted or overwritten object keeps its old version: a mistaken deletion, or one made with the nodes'
  # credentials, can be undone from its noncurrent version.
  versioning {
    enabled = true
  }

  # barman-cloud applies the retention itself (the ObjectStore's retentionPolicy, from backups_retention_days): it
  # deletes the base backups and WAL outside the recovery window, keeping the newest base backup older than the
  # window, which the oldest restorable time needs. What it deletes becomes noncurrent here and is kept for as many
  # days again, then deleted: storage stays bounded at about twice the window. There is deliberately no age rule
  # for live objects: when backups stop (a broken schedule), the last good base backup grows older than the window
  # and is exactly what must not disappear; barman's own retention never deletes it.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.backups_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.required]
}

# Only the nodes' service account may write, and only at this bucket: objectUser creates, reads, lists and deletes
# objects (barman-cloud's retention deletes), without changing any IAM; legacyBucketReader adds storage.buckets.get,
# which barman-cloud calls first (its connectivity check, Bucket.exists()) and objectUser lacks. Nothing at the
# project level: no other bucket is reachable with the nodes' credentials.
resource "google_storage_bucket_iam_member" "backups_node" {
  for_each = toset(["roles/storage.objectUser", "roles/storage.legacyBucketReader"])

  bucket = google_storage_bucket.backups.name
  role   = each.value
  member = "serviceAccount:${google_service_account.node.email}"
}
