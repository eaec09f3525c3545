"""playbooks/restore.yml refuses, before any change, what it must not do: run for real by ansible-playbook.

No cluster runs here, so `microk8s` is fake_microk8s.py: its `kubectl get` answers recorded Cluster and ObjectStore
objects (the shapes CloudNativePG 1.30 and the Barman Cloud plugin give, fields from their CRDs in $SHARED) and it
logs every call. The decisions are the playbook's own tasks; the tests check the message names the cause and the
variable, and that nothing but reads reached the cluster. The last case lets the checks pass and shows the playbook
going on: the old cluster's comments counted and its last WAL segment archived before it is deleted (the delete then
fails here, with no cluster behind the kubeconfig).
"""

import json
import os
from pathlib import Path

import pytest
from runner import REPO, failed_task, run_playbook

PLAYBOOK = REPO / "playbooks" / "restore.yml"
FAKE = Path(__file__).with_name("fake_microk8s.py")
# The modules run on "localhost" with the tooling venv's Python (the one ansible-playbook runs in).
ANSIBLE_PYTHON = REPO / ".venv" / "bin" / "python"

HEALTHY = {
    "apiVersion": "postgresql.cnpg.io/v1",
    "kind": "Cluster",
    "metadata": {"name": "comments-db", "namespace": "comments"},
    "spec": {
        "instances": 3,
        "plugins": [
            {
                "name": "barman-cloud.cloudnative-pg.io",
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": "comments-db-backups", "serverName": "comments-db-20261201030000"},
            }
        ],
    },
    "status": {
        "phase": "Cluster in healthy state",
        "readyInstances": 3,
        "instances": 3,
        "currentPrimary": "comments-db-2",
    },
}
FAILING = {**HEALTHY, "status": {"phase": "Setting up primary", "readyInstances": 0, "instances": 3}}
STORE = {
    "apiVersion": "barmancloud.cnpg.io/v1",
    "kind": "ObjectStore",
    "metadata": {"name": "comments-db-backups", "namespace": "comments"},
    "spec": {"configuration": {"destinationPath": "s3://comments-backups/"}, "retentionPolicy": "30d"},
    "status": {
        "serverRecoveryWindow": {
            "comments-db-20261201030000": {
                "firstRecoverabilityPoint": "2026-12-01T03:00:12Z",
                "lastSuccessfulBackupTime": "2026-12-05T03:00:40Z",
            },
            "comments-db-20261101030000": {
                "firstRecoverabilityPoint": "2026-11-01T03:00:12Z",
                "lastSuccessfulBackupTime": "2026-11-20T03:00:40Z",
            },
        }
    },
}
NO_BACKUP = {
    **STORE,
    "status": {
        "serverRecoveryWindow": {"comments-db-20261201030000": {"lastFailedBackupTime": "2026-12-05T03:00:40Z"}}
    },
}


def restore(tmp_path, cluster=None, store=None, **extra_vars):
    """restore.yml on localhost as the `microk8s` group, with the fake microk8s answering `cluster` and `store`."""
    state = tmp_path / "state"
    state.mkdir(parents=True)
    (state / "calls.log").write_text("")
    for name, obj in (("cluster.json", cluster), ("objectstore.json", store)):
        if obj is not None:
            (state / name).write_text(json.dumps(obj))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "children": {
                        "microk8s": {
                            "hosts": {
                                "localhost": {
                                    "ansible_connection": "local",
                                    "ansible_python_interpreter": str(ANSIBLE_PYTHON),
                                }
                            }
                        }
                    }
                }
            }
        )
    )
    variables = {"backups_microk8s": str(FAKE), "backups_kubeconfig": str(tmp_path / "no-kubeconfig"), **extra_vars}
    os.environ["FAKE_STATE"] = str(state)
    result = run_playbook(PLAYBOOK, variables, inventory=inventory)
    result.calls = [json.loads(line) for line in (state / "calls.log").read_text().splitlines()]
    return result


def only_reads(calls):
    return all("get" in call for call in calls)


@pytest.mark.parametrize(
    "target, message",
    [
        ("2026-12-06 01:02:03", "is not a timestamp with a time zone"),
        ("06/12/2026 01:02", "is not a timestamp with a time zone"),
        ("2026-02-30T01:02:03Z", "is not a real date and time"),
        ("2999-01-01T00:00:00Z", "is not in the past"),
    ],
)
def test_a_bad_target_time_is_refused_before_the_cluster_is_asked_anything(tmp_path, target, message):
    result = restore(tmp_path, HEALTHY, STORE, restore_target_time=target)
    assert result.returncode != 0
    assert "restore_target_time" in result.output and message in result.output, result.output
    assert result.calls == []


def test_a_replace_flag_that_is_no_boolean_is_refused_before_the_cluster_is_asked_anything(tmp_path):
    result = restore(tmp_path, HEALTHY, STORE, restore_replace_healthy_cluster="maybe")
    assert result.returncode != 0
    assert 'restore_replace_healthy_cluster is "maybe": give true or false.' in result.output, result.output
    assert result.calls == []


def test_a_healthy_cluster_is_not_replaced_unless_told(tmp_path):
    result = restore(tmp_path, HEALTHY, STORE)
    assert result.returncode != 0
    assert failed_task(result).endswith("Refuse to replace a healthy cluster unless told to."), result.output
    assert "comments/comments-db is healthy (3/3 instances ready)" in result.output
    assert "-e restore_replace_healthy_cluster=true" in result.output
    assert only_reads(result.calls) and len(result.calls) == 2, result.calls


def test_no_object_store_means_nothing_to_restore_from(tmp_path):
    result = restore(tmp_path, FAILING, None)
    assert failed_task(result).endswith("Stop when the object store is not there."), result.output
    assert "There is no ObjectStore comments/comments-db-backups" in result.output
    assert only_reads(result.calls)


def test_a_store_without_a_completed_base_backup_is_refused(tmp_path):
    result = restore(tmp_path, FAILING, NO_BACKUP)
    assert failed_task(result).endswith("Stop when the object store holds no completed base backup of the source."), (
        result.output
    )
    assert "records no completed base backup of server comments-db-20261201030000" in result.output
    assert only_reads(result.calls)


def test_a_target_before_the_first_recoverability_point_is_refused(tmp_path):
    result = restore(tmp_path, FAILING, STORE, restore_target_time="2026-11-30T12:00:00+01:00")
    assert failed_task(result).endswith(
        "Stop when the target time is before the first point the backups can restore."
    ), result.output
    assert "is before 2026-12-01T03:00:12Z" in result.output
    assert only_reads(result.calls)


def test_with_no_cluster_left_the_newest_server_with_a_backup_is_the_source(tmp_path):
    # The Cluster was deleted: the source is the server with the newest completed base backup. A named older one is
    # refused when its target is before its window, which shows which server was chosen each time.
    result = restore(tmp_path, None, STORE, restore_target_time="2026-11-25T00:00:00Z")
    assert failed_task(result).endswith("Stop when the target time is before the first point the backups can restore.")
    assert "the backups of comments-db-20261201030000 can restore" in result.output
    older = restore(
        tmp_path / "older",
        None,
        STORE,
        restore_target_time="2026-10-25T00:00:00Z",
        restore_source_server="comments-db-20261101030000",
    )
    assert "the backups of comments-db-20261101030000 can restore" in older.output, older.output


def test_when_told_a_healthy_cluster_has_its_last_wal_archived_before_it_is_deleted(tmp_path):
    result = restore(tmp_path, HEALTHY, STORE, restore_replace_healthy_cluster=True)
    assert result.returncode != 0
    # Every check passed; the old primary was asked for its count, its WAL switched and its archive awaited.
    assert failed_task(result).endswith("Delete the old Cluster (its volumes go with it)."), result.output
    sql = [call[call.index("--command") + 1] for call in result.calls if "--command" in call]
    assert sql == [
        "SELECT count(*) FROM comments",
        "SELECT pg_walfile_name(pg_switch_wal())",
        "SELECT last_archived_wal FROM pg_stat_archiver",
    ]
    assert all("comments-db-2" in call for call in result.calls if "exec" in call)
