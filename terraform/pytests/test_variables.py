"""Every variable is typed and described; the validations exist and really reject bad values.

The validations are exercised by Terraform itself: variables.tf is copied alone into a temporary
folder (no provider needed there) and `terraform plan` is given good and bad values.
"""

import json
import shutil

import pytest

from conftest import TERRAFORM_DIR, blocks, run_terraform, unquote

VALIDATED = {
    "project_id",
    "region",
    "zone",
    "node_count",
    "machine_type",
    "admin_cidrs",
    "ssh_public_key_path",
    "kong_proxy_health_check_node_port",
    "backups_retention_days",
    "backups_bucket_name",
}


def all_variables(configuration):
    return {labels[0]: body for tree in configuration.values() for labels, body in blocks(tree, "variable")}


def test_variables_live_in_variables_tf(configuration):
    stray = [name for name, tree in configuration.items() if name != "variables.tf" and tree.get("variable")]
    assert not stray, f"variables must be declared in variables.tf only, found some in {stray}"


def test_every_variable_has_a_type_and_a_description(configuration):
    variables = all_variables(configuration)
    assert variables, "no variable found in terraform/"
    for name, body in variables.items():
        assert "type" in body, f"variable {name} has no type"
        description = unquote(body.get("description", ""))
        assert len(description) > 10, f"variable {name} has no real description"


def test_variables_that_cost_money_or_open_ports_are_validated(configuration):
    variables = all_variables(configuration)
    missing = sorted(name for name in VALIDATED if not variables.get(name, {}).get("validation"))
    assert not missing, f"these variables need a validation block: {missing}"


def test_admin_cidrs_is_required(configuration):
    assert "default" not in all_variables(configuration)["admin_cidrs"], "admin_cidrs must have no default"


@pytest.fixture(scope="module")
def plan_variables(tmp_path_factory, terraform):
    """Run `terraform plan` on variables.tf alone with the good values, overridden by `changes`."""
    folder = tmp_path_factory.mktemp("variables")
    shutil.copy(TERRAFORM_DIR / "variables.tf", folder)
    public_key = folder / "id_test.pub"
    public_key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDummyKeyForTestsOnly test\n")
    good = {
        "project_id": "my-project-123",
        "admin_cidrs": ["203.0.113.10/32"],
        "ssh_public_key_path": str(public_key),
    }

    def plan(var_file=None, **changes):
        # With a var file, only the key path is added: the file's own values are what is tested.
        base = {"ssh_public_key_path": good["ssh_public_key_path"]} if var_file else good
        values = {**base, **changes}
        case = folder / "case.tfvars.json"
        case.write_text(json.dumps(values))
        files = [var_file, case] if var_file else [case]
        return run_terraform(
            terraform, ["plan", "-input=false", "-no-color", *[f"-var-file={path}" for path in files]], cwd=folder
        )

    return plan


def test_good_values_pass(plan_variables):
    result = plan_variables()
    assert result.returncode == 0, result.stderr
    result = plan_variables(
        node_count=3,
        machine_type="n2-custom-4-16384",
        region="europe-west1",
        zone="europe-west1-b",
        kong_proxy_health_check_node_port=30085,
        backups_retention_days=90,
        backups_bucket_name="acme-comments-backups",
    )
    assert result.returncode == 0, result.stderr


def test_the_example_tfvars_is_valid(plan_variables, tmp_path):
    """terraform.tfvars.example is what people copy; it must pass every validation as it stands
    (only the key path is pointed at a file that exists here)."""
    example = tmp_path / "example.tfvars"
    example.write_text((TERRAFORM_DIR / "terraform.tfvars.example").read_text())
    result = plan_variables(var_file=example)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"admin_cidrs": ["0.0.0.0/0"]}, "admin_cidrs must not open SSH"),
        ({"admin_cidrs": ["203.0.113.10/32", "::/0"]}, "admin_cidrs must not open SSH"),
        ({"admin_cidrs": ["0.0.0.0/1", "128.0.0.0/1"]}, "admin_cidrs must not open SSH"),
        ({"admin_cidrs": []}, "non-empty list of CIDR"),
        ({"admin_cidrs": ["my-laptop"]}, "non-empty list of CIDR"),
        ({"node_count": 2}, "2 give no HA"),
        ({"node_count": 0}, "node_count must be 1"),
        ({"node_count": 1.5}, "node_count must be 1"),
        ({"machine_type": "e2-medium"}, "machine_type must be"),
        ({"machine_type": "n2-standard-1"}, "machine_type must be"),
        ({"zone": "europe-west1-b"}, "zone must be a GCP zone inside region"),
        ({"region": "Brazil"}, "region must look like"),
        ({"project_id": "My Project"}, "project_id must be a GCP project ID"),
        ({"ssh_public_key_path": "/nonexistent/id_ed25519.pub"}, "existing public key"),
        ({"ssh_public_key_path": "/etc/hostname"}, "existing public key"),
        ({"ssh_user": "root"}, "ssh_user must be"),
        ({"subnet_cidr": "8.8.8.0/24"}, "private IPv4 range"),
        ({"kong_proxy_health_check_node_port": 10256}, "kong_proxy_health_check_node_port must be a port"),
        ({"kong_proxy_health_check_node_port": 32768}, "kong_proxy_health_check_node_port must be a port"),
        ({"backups_retention_days": 0}, "backups_retention_days must be"),
        ({"backups_retention_days": 7.5}, "backups_retention_days must be"),
        ({"backups_bucket_name": "My_Backups"}, "backups_bucket_name must be"),
        ({"backups_bucket_name": "my-google-backups"}, "backups_bucket_name must be"),
        ({"backups_bucket_name": "backups.example.org"}, "backups_bucket_name must be"),
    ],
)
def test_bad_values_are_rejected_with_a_clear_message(plan_variables, changes, message):
    result = plan_variables(**changes)
    assert result.returncode != 0, f"{changes} was accepted"
    assert message in " ".join(result.stderr.split()), result.stderr
