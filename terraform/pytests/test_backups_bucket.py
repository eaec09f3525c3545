"""The PostgreSQL backups bucket (backups.tf): uniform bucket-level access, public access prevention enforced,
versioning, a lifecycle rule that follows backups_retention_days and never ages out live objects; writable only by
the nodes' service account, granted on this bucket alone; the VMs' scope lets the metadata server's token write it;
the inventory carries its name and the retention."""

import pytest

from conftest import TERRAFORM_DIR, blocks, edited_configuration, resources, unquote

NODE_MEMBER = "serviceAccount:${google_service_account.node.email}"
# objectUser: objects create/get/list/update/delete (barman-cloud's retention deletes), no IAM changes;
# legacyBucketReader: storage.buckets.get, which barman-cloud's connectivity check (Bucket.exists()) needs.
ALLOWED_ROLES = {"roles/storage.objectUser", "roles/storage.legacyBucketReader"}
BUCKET_IAM_TYPES = (
    "google_storage_bucket_iam_member",
    "google_storage_bucket_iam_binding",
    "google_storage_bucket_iam_policy",
)


def bucket(configuration):
    found = list(resources(configuration, "google_storage_bucket"))
    assert len(found) == 1, f"expected one bucket, found {[name for name, _ in found]}"
    return found[0]


def bucket_problems(configuration):
    """What is wrong with the bucket's settings; an empty list means none."""
    name, body = bucket(configuration)
    problems = []
    if body.get("uniform_bucket_level_access") is not True:
        problems.append(f"{name}: uniform bucket-level access is off")
    if unquote(body.get("public_access_prevention")) != "enforced":
        problems.append(f"{name}: public access prevention is not enforced")
    if [v.get("enabled") for v in body.get("versioning", [])] != [True]:
        problems.append(f"{name}: versioning is off")
    rules = body.get("lifecycle_rule", [])
    conditions = [
        {key: unquote(value) for key, value in rule["condition"][0].items() if key != "__is_block__"} for rule in rules
    ]
    actions = [unquote(rule["action"][0]["type"]) for rule in rules]
    expected = {"days_since_noncurrent_time": "${var.backups_retention_days}", "with_state": "ARCHIVED"}
    if conditions != [expected] or actions != ["Delete"]:
        problems.append(f"{name}: lifecycle is {rules}, expected one Delete of versions noncurrent for the retention")
    for condition in conditions:
        # An age on live objects would delete the last good base backup once backups stop: barman-cloud's retention
        # owns the live objects.
        if "age" in condition or condition.get("with_state") in ("LIVE", "ANY", None):
            problems.append(f"{name}: a lifecycle rule deletes live objects: {condition}")
    return problems


def iam_problems(configuration):
    """Grants on the bucket to anyone but the nodes' service account, roles beyond the allowed ones, or storage
    roles for that account at the project level; an empty list means none."""
    bucket_name, _ = bucket(configuration)
    problems = []
    grants = [(kind, name, body) for kind in BUCKET_IAM_TYPES for name, body in resources(configuration, kind)]
    if not grants:
        problems.append("no IAM grant on the bucket: the nodes cannot write backups")
    for kind, name, body in grants:
        if unquote(body.get("bucket")) != f"${{google_storage_bucket.{bucket_name}.name}}":
            problems.append(f"{kind}.{name}: grants on {body.get('bucket')}")
        members = (
            [unquote(m) for m in body.get("members", [])] if kind.endswith("binding") else [unquote(body.get("member"))]
        )
        if kind.endswith("policy") or members != [NODE_MEMBER]:
            problems.append(f"{kind}.{name}: members {members or body}, expected the nodes' service account only")
        roles = grant_roles(body)
        if not roles or not roles <= ALLOWED_ROLES:
            problems.append(f"{kind}.{name}: roles {sorted(roles)}, allowed {sorted(ALLOWED_ROLES)}")
    for name, body in resources(configuration, "google_project_iam_member"):
        if any(role.startswith("roles/storage.") for role in grant_roles(body)):
            problems.append(f"google_project_iam_member.{name}: a project-wide storage role")
    return problems


def grant_roles(body):
    """The roles of one IAM resource: its role, or each role of its for_each = toset([...])."""
    role = unquote(body.get("role", ""))
    if role != "${each.value}":
        return {role}
    text = str(body.get("for_each", ""))
    assert text.startswith("${toset([") and text.endswith("])}"), f"cannot read the roles of {body}"
    return {part.strip().strip('"') for part in text[len("${toset([") : -len("])}")].split(",") if part.strip()}


def test_the_bucket_is_private_versioned_and_follows_the_retention(configuration):
    assert bucket_problems(configuration) == []


def test_only_the_nodes_service_account_may_write(configuration):
    assert iam_problems(configuration) == []


@pytest.mark.parametrize(
    ("original", "replacement", "expected"),
    [
        (
            'public_access_prevention    = "enforced"',
            'public_access_prevention    = "inherited"',
            "public access prevention",
        ),
        ("uniform_bucket_level_access = true", "uniform_bucket_level_access = false", "uniform bucket-level access"),
        ("enabled = true", "enabled = false", "versioning is off"),
        ("days_since_noncurrent_time = var.backups_retention_days", "days_since_noncurrent_time = 3", "lifecycle is"),
        ('with_state                 = "ARCHIVED"', 'with_state                 = "ANY"', "deletes live objects"),
    ],
)
def test_the_check_catches_a_weakened_bucket(tmp_path, original, replacement, expected):
    problems = bucket_problems(edited_configuration(tmp_path, "backups.tf", original, replacement))
    # A live-object rule is also not the expected rule: it may be named twice, but nothing else may be.
    assert problems and all(expected in problem or "lifecycle is" in problem for problem in problems), problems
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("original", "replacement", "expected"),
    [
        (
            'member = "serviceAccount:${google_service_account.node.email}"',
            'member = "allUsers"',
            "members ['allUsers'], expected the nodes' service account only",
        ),
        (
            '"roles/storage.objectUser"',
            '"roles/storage.admin"',
            "roles ['roles/storage.admin', 'roles/storage.legacyBucketReader']",
        ),
    ],
)
def test_the_check_catches_a_grant_to_someone_else_or_too_much(tmp_path, original, replacement, expected):
    problems = iam_problems(edited_configuration(tmp_path, "backups.tf", original, replacement))
    assert len(problems) == 1 and expected in problems[0], problems


def test_the_vms_token_may_write_to_storage(configuration):
    """The metadata server's token carries the VM's scopes: without cloud-platform (or devstorage.read_write) GCS
    refuses the writes whatever IAM allows."""
    _, node = next(iter(resources(configuration, "google_compute_instance")))
    scopes = {unquote(scope) for scope in node["service_account"][0]["scopes"]}
    assert scopes & {
        "cloud-platform",
        "https://www.googleapis.com/auth/cloud-platform",
        "storage-rw",
        "https://www.googleapis.com/auth/devstorage.read_write",
    }, scopes
    assert unquote(node["service_account"][0]["email"]) == "${google_service_account.node.email}"


def test_no_key_is_made_for_the_service_account(configuration):
    """The nodes authenticate through the metadata server: no key exists to leak, in state, git or on disk."""
    assert not list(resources(configuration, "google_service_account_key"))
    assert not list(resources(configuration, "google_storage_hmac_key"))


def test_the_inventory_carries_the_bucket_and_the_retention():
    text = (TERRAFORM_DIR / "inventory.tf").read_text()
    assert "backups_gcs_bucket     = google_storage_bucket.backups.name" in text
    assert "backups_retention_days = var.backups_retention_days" in text
    template = (TERRAFORM_DIR / "templates" / "hosts.yml.tftpl").read_text()
    assert "backups_gcs_bucket: ${jsonencode(backups_gcs_bucket)}" in template
    assert "backups_retention_days: ${backups_retention_days}" in template


def test_bucket_variables_are_validated(configuration):
    variables = {labels[0]: body for labels, body in blocks(configuration["variables.tf"], "variable")}
    for name in ("backups_retention_days", "backups_bucket_name", "kong_proxy_health_check_node_port"):
        assert variables[name].get("validation"), f"{name} needs a validation block"
