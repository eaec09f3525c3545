# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups (issue 17) on the output rendered for each inventory, and for the Cluster restore.yml recovers.

Every document is validated strictly by test_manifests.py (the ObjectStore against the plugin's CRD, the Cluster,
ScheduledBackup and Backup against CloudNativePG's); here the roles must agree with each other: the Cluster archives
to the ObjectStore the backups role makes, which reaches the store Garage serves (lab) or the Terraform bucket (GCP),
with the key the garage role keeps; Garage admits exactly the database's pods; the restored Cluster recovers from the
named server and archives under a new one.
"""

import pytest
import yaml

import charts
import kube_schemas
import rendering

INVENTORIES = rendering.discover_inventories()
PLUGIN = "barman-cloud.cloudnative-pg.io"
RESTORE = {
    "source_server": "comments-db-20261201030000",
    "target_time": "2026-12-05T10:00:00Z",
    "archive_server": "comments-db-20261206020000",
}


def load(folder, role, name):
    return kube_schemas.load_documents((folder / role / name).read_text())


def one(documents, kind):
    found = [d for d in documents if d["kind"] == kind]
    assert len(found) == 1, "expected one %s, found %d" % (kind, len(found))
    return found[0]


@pytest.fixture(scope="module")
def restored(tmp_path_factory):
    """The vagrant inventory rendered as restore.yml renders the Cluster (comments_app_db_restore set)."""
    hosts = rendering.sample_hosts("vagrant")
    first = next(iter(hosts))
    hosts[first] = dict(hosts[first], comments_app_db_restore=RESTORE)
    work = tmp_path_factory.mktemp("restore")
    result = rendering.render_inventory("vagrant", work / "work", work / "out", hosts=hosts, roles={"comments_app"})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return work / "out"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_cluster_archives_to_the_backups_object_store(inventory, rendered):
    cluster = one(load(rendered(inventory), "comments_app", "database.yaml"), "Cluster")
    store = one(load(rendered(inventory), "backups", "object-store.yaml"), "ObjectStore")
    plugins = cluster["spec"]["plugins"]
    assert [p["name"] for p in plugins] == [PLUGIN]
    assert plugins[0]["isWALArchiver"] is True
    assert plugins[0]["parameters"]["barmanObjectName"] == store["metadata"]["name"]
    assert store["metadata"]["namespace"] == cluster["metadata"]["namespace"]
    # A fresh cluster archives under its own folder, never the bare cluster name an older cluster may have used.
    assert plugins[0]["parameters"]["serverName"].startswith("comments-db-")
    assert "serverName" not in store["spec"]["configuration"]  # the plugin's docs: leave it empty in the store
    assert "initdb" in cluster["spec"]["bootstrap"] and "externalClusters" not in cluster["spec"]


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_daily_and_on_demand_backups_use_the_plugin_on_the_app_cluster(inventory, rendered):
    cluster = one(load(rendered(inventory), "comments_app", "database.yaml"), "Cluster")
    for name, kind in (("scheduled-backup.yaml", "ScheduledBackup"), ("backup.yaml", "Backup")):
        backup = one(load(rendered(inventory), "backups", name), kind)
        assert backup["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
        assert backup["metadata"]["namespace"] == cluster["metadata"]["namespace"]
        assert backup["spec"]["method"] == "plugin"
        assert backup["spec"]["pluginConfiguration"] == {"name": PLUGIN}
    scheduled = one(load(rendered(inventory), "backups", "scheduled-backup.yaml"), "ScheduledBackup")
    assert scheduled["spec"]["schedule"] == "0 0 3 * * *" and scheduled["spec"]["immediate"] is True


def test_the_lab_store_is_garage_with_the_garage_roles_key_and_region(rendered):
    store = one(load(rendered("vagrant"), "backups", "object-store.yaml"), "ObjectStore")
    configuration = store["spec"]["configuration"]
    defaults = yaml.safe_load((rendering.ROLES_DIR / "backups" / "defaults" / "main.yml").read_text())
    assert configuration["endpointURL"] == charts.setting("garage", "garage_s3_endpoint")
    assert configuration["destinationPath"] == "s3://%s/" % charts.setting("garage", "garage_bucket")
    assert defaults["backups_s3_key_secret"] == charts.setting("garage", "garage_key_secret")
    assert defaults["backups_s3_key_secret_namespace"] == charts.setting("garage", "garage_namespace")
    assert defaults["backups_s3_region"] == charts.setting("garage", "garage_s3_region")
    secrets = {ref["name"] for ref in configuration["s3Credentials"].values()}
    assert secrets == {"comments-db-backups-s3"}, secrets
    assert "googleCredentials" not in configuration
    assert store["spec"]["retentionPolicy"] == "30d"


def test_the_gcp_store_is_the_terraform_bucket_with_the_nodes_credentials(rendered):
    store = one(load(rendered("gcp"), "backups", "object-store.yaml"), "ObjectStore")
    configuration = store["spec"]["configuration"]
    sample = next(iter(rendering.sample_hosts("gcp").values()))
    assert configuration["destinationPath"] == "gs://%s/" % sample["backups_gcs_bucket"]
    assert configuration["googleCredentials"] == {"gkeEnvironment": True}
    assert "s3Credentials" not in configuration and "endpointURL" not in configuration
    assert store["spec"]["instanceSidecarConfiguration"]["env"] == [
        {"name": "GCE_METADATA_HOST", "value": "169.254.169.254"}
    ]
    # The bucket's lifecycle (Terraform) and barman's retention come from the same number in the inventory.
    assert store["spec"]["retentionPolicy"] == "%dd" % sample["backups_retention_days"]


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_garage_admits_exactly_the_database_pods_to_its_s3_port(inventory, rendered):
    policies = {d["metadata"]["name"]: d for d in load(rendered(inventory), "garage", "network-policies.yaml")}
    assert policies["default-deny-ingress"]["spec"]["podSelector"] == {}
    rule = policies["allow-s3-clients"]["spec"]["ingress"]
    assert rule == [
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "comments"}},
                    "podSelector": {"matchLabels": {"cnpg.io/cluster": "comments-db"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 3900}],
        }
    ]
    # The instances reach Garage from the app's namespace: its policies restrict ingress only, never egress.
    app_policies = load(rendered(inventory), "comments_app", "network-policies.yaml")
    assert all(p["spec"]["policyTypes"] == ["Ingress"] for p in app_policies)


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_postgresql_image_is_pinned_and_rolled_replicas_first_then_switched_over(inventory, rendered):
    cluster = one(load(rendered(inventory), "comments_app", "database.yaml"), "Cluster")
    assert cluster["spec"]["imageName"] == "ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie"
    assert cluster["spec"]["primaryUpdateStrategy"] == "unsupervised"
    assert cluster["spec"]["primaryUpdateMethod"] == "switchover"


def test_the_restored_cluster_recovers_from_the_named_server_and_archives_under_a_new_one(
    restored, crds, kubernetes_version
):
    documents = load(restored, "comments_app", "database.yaml")
    assert kube_schemas.validate_manifest_documents(documents, crds, kubernetes_version) == []
    spec = one(documents, "Cluster")["spec"]
    recovery = spec["bootstrap"]["recovery"]
    assert set(spec["bootstrap"]) == {"recovery"}
    assert recovery["recoveryTarget"] == {"targetTime": RESTORE["target_time"]}
    assert (recovery["database"], recovery["owner"]) == ("app", "app")
    [source] = spec["externalClusters"]
    assert source["name"] == recovery["source"]
    assert source["plugin"] == {
        "name": PLUGIN,
        "parameters": {"barmanObjectName": "comments-db-backups", "serverName": RESTORE["source_server"]},
    }
    assert spec["plugins"][0]["parameters"]["serverName"] == RESTORE["archive_server"]
    assert spec["plugins"][0]["isWALArchiver"] is True
