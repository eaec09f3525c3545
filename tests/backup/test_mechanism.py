"""Continuous archiving and point-in-time restore with Barman Cloud, for real: PostgreSQL, barman-cloud, S3 on loopback.

What the Barman Cloud plugin does inside the CloudNativePG instance pods, done here with the same programs
(barman 3.19.1, the version in the plugin v0.13.0 sidecar): a PostgreSQL whose archive_command is
barman-cloud-wal-archive, a base backup with barman-cloud-backup, and restores with barman-cloud-restore
plus a restore_command of barman-cloud-wal-restore into a new data directory. The comments are written
through the app (acknowledged = its 200 SUCCESS answer with an id) and read back through the app.
"""

import datetime
import os
import re
import shutil
import time

import psycopg
import pytest
from barman_cloud import BarmanCloud, S3Server, backup_venv

from comments_harness import AppServer, PostgresCluster, wait_until

BUCKET = "comments-backups"
PREFIX = "lab"
SERVER_NAME = "comments-db"
PER_BATCH = 25
# Written before the base backup (in it), after it (only in the archived WAL), after the marked time.
BATCHES = ("before-backup", "after-backup", "after-target")


def sql(cluster: PostgresCluster, query: str, database: str = "postgres"):
    with psycopg.connect(cluster.url(database), autocommit=True) as conn:
        return conn.execute(query).fetchone()[0]


def append_settings(cluster: PostgresCluster, settings: dict) -> None:
    """Server settings in postgresql.conf (later lines win), so values may hold spaces and quotes."""
    lines = "".join(f"{name} = '{value}'\n" for name, value in settings.items())
    with open(cluster.datadir / "postgresql.conf", "a") as conf:
        conf.write("\n# backup mechanism test\n" + lines)


def switch_wal(cluster: PostgresCluster) -> str:
    """Close the current WAL segment and wait until the archiver has stored it; its name."""
    segment = sql(cluster, "SELECT pg_walfile_name(pg_switch_wal())")

    def archived():
        row = psycopg.connect(cluster.url(), autocommit=True).execute(
            "SELECT last_archived_wal, failed_count, last_failed_wal FROM pg_stat_archiver"
        )
        last, failed, failed_wal = row.fetchone()
        assert failed == 0, f"archive_command failed for {failed_wal}:\n{cluster.log()}"
        return last is not None and last >= segment

    wait_until(archived, 60, f"WAL segment {segment} to be archived")
    return segment


def write(app: AppServer, batch: str) -> list[str]:
    """PER_BATCH comments under content id `batch`, each acknowledged; their texts."""
    texts = []
    for i in range(PER_BATCH):
        text = f"{batch} comment {i}"
        response = app.post_comment(batch, comment=text)
        assert response.status_code == 200 and response.json()["status"] == "SUCCESS", response.text
        texts.append(text)
    return texts


def read(app: AppServer, batch: str) -> list[str]:
    response = app.list_comments(batch)
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return sorted(item["comment"] for item in response.json())


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    venv = backup_venv()
    server = S3Server(venv, tmp_path_factory.mktemp("s3") / "moto.log")
    try:
        server.create_bucket(BUCKET)
        yield venv, server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def history(store, tmp_path_factory):
    """The source: comments before the backup, the backup, after it, the marked time, after it; then it is gone."""
    venv, s3 = store
    logs = tmp_path_factory.mktemp("source")
    cluster = PostgresCluster()
    app = None
    try:
        barman = BarmanCloud(venv, s3.endpoint, BUCKET, PREFIX, SERVER_NAME, run_as=cluster.run_as)
        version = barman.run("barman-cloud-wal-archive", "--version", check=False)
        if version.returncode != 0:
            raise RuntimeError(
                f"the PostgreSQL account cannot run barman-cloud from {venv} ({version.stderr.strip()}): "
                "the clone and its venv must be readable by that account (not under a 0700 home directory)"
            )
        append_settings(
            cluster, {"wal_level": "replica", "archive_mode": "on", "archive_command": barman.archive_command()}
        )
        cluster.start()
        database = cluster.fresh_database().rsplit("/", 1)[1]
        app = AppServer({"DATABASE_URL": cluster.url(database)}, logs / "app.log", workers=1).start()
        written = {"before-backup": write(app, "before-backup")}
        barman.run(
            "barman-cloud-backup",
            *("--host", "127.0.0.1", "--port", str(cluster.port), "--user", "postgres", "--dbname", "postgres"),
            # As the role's ObjectStore has it (data.compression gzip, data.immediateCheckpoint true).
            *("--gzip", "--immediate-checkpoint"),
            barman.destination,
            SERVER_NAME,
        )
        written["after-backup"] = write(app, "after-backup")
        after_backup_segment = switch_wal(cluster)
        time.sleep(0.5)
        target = datetime.datetime.now(datetime.UTC)
        time.sleep(0.5)
        written["after-target"] = write(app, "after-target")
        switch_wal(cluster)
        yield {
            "barman": barman,
            "database": database,
            "written": written,
            "target": target,
            "after_backup_segment": after_backup_segment,
        }
    finally:
        if app:
            app.stop()
        cluster.destroy()


def promoted(cluster: PostgresCluster) -> bool:
    """Whether recovery has ended and the server accepts writes; RuntimeError with its log if it has stopped."""
    try:
        return not sql(cluster, "SELECT pg_is_in_recovery()")
    except psycopg.OperationalError:
        if (cluster.datadir / "postmaster.pid").exists():
            return False
        raise RuntimeError(f"the restored server stopped during recovery:\n{cluster.log()}") from None


def restore(history, logs, target=None) -> PostgresCluster:
    """A new cluster from the latest base backup and the archived WAL, to `target` (a datetime) or the end."""
    barman = history["barman"]
    cluster = PostgresCluster()
    try:
        shutil.rmtree(cluster.datadir)
        barman.run("barman-cloud-restore", barman.destination, SERVER_NAME, "latest", str(cluster.datadir))
        os.chmod(cluster.datadir, 0o700)
        settings = {
            "restore_command": barman.restore_command(),
            # The restored server must not archive into the source's archive.
            "archive_mode": "off",
            "recovery_target_action": "promote",
        }
        if target:
            settings["recovery_target_time"] = target.isoformat(sep=" ")
        append_settings(cluster, settings)
        signal_file = cluster.datadir / "recovery.signal"
        signal_file.touch()
        if cluster.run_as:
            os.chown(signal_file, cluster.run_as.pw_uid, cluster.run_as.pw_gid)
        cluster.start()
        wait_until(lambda: promoted(cluster), 60, "the restored server to promote")
        return cluster
    except BaseException:
        if cluster.logfile.exists():
            shutil.copy(cluster.logfile, logs / "restore-server.log")
        cluster.destroy()
        raise


def segment_name(timeline: int, lsn: int, segment_size: int) -> str:
    """The WAL file name holding `lsn` on `timeline` (PostgreSQL's XLogFileName)."""
    number, per_id = lsn // segment_size, 0x100000000 // segment_size
    return f"{timeline:08X}{number // per_id:08X}{number % per_id:08X}"


def archive_gap(cluster: PostgresCluster, s3: S3Server) -> str | None:
    """The WAL segment a promoted restore stopped at if the archive holds later WAL of that timeline, else None.

    PostgreSQL cannot tell a missing segment from the end of the archive: restore_command fails for it
    either way, and without a recovery target it promotes there. The new timeline's history file says
    where recovery stopped; if the archive holds a segment of the old timeline from there on, recovery
    stopped at a hole, not at the end, and the restore lost the WAL after it.
    """
    # The newest timeline's history file (pg_control's timeline lags until the first checkpoint after promotion).
    newest = sql(cluster, "SELECT max(name) FROM pg_ls_waldir() WHERE name LIKE '%.history'")
    history_file = sql(cluster, f"SELECT pg_read_file('pg_wal/{newest}')")
    parent, switchpoint = history_file.strip().splitlines()[-1].split("\t")[:2]
    high, low = switchpoint.split("/")
    size = int(sql(cluster, "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"))
    stopped_at = segment_name(int(parent), (int(high, 16) << 32) | int(low, 16), size)
    archived = [
        name
        for key in s3.keys(BUCKET, f"{PREFIX}/{SERVER_NAME}/wals/")
        if (name := re.fullmatch(r"([0-9A-F]{24})(\.gz)?", key.rsplit("/", 1)[1]))
        and name.group(1)[:8] == stopped_at[:8]
        and name.group(1) >= stopped_at
    ]
    return stopped_at if archived else None


def read_back(history, cluster, logs) -> dict:
    """Every batch's comments as the app on the restored server lists them."""
    url = cluster.url(history["database"])
    app = AppServer({"DATABASE_URL": url}, logs / "app.log", workers=1).start()
    try:
        return {batch: read(app, batch) for batch in BATCHES}
    finally:
        app.stop()


def test_restore_to_the_latest_point_brings_every_comment_back(history, store, tmp_path):
    started = time.monotonic()
    cluster = restore(history, tmp_path)
    try:
        print(f"restore to the latest point: {time.monotonic() - started:.1f}s")
        assert archive_gap(cluster, store[1]) is None
        back = read_back(history, cluster, tmp_path)
    finally:
        cluster.destroy()
    assert back == {batch: sorted(texts) for batch, texts in history["written"].items()}


def test_restore_to_the_marked_time_stops_there(history, tmp_path):
    started = time.monotonic()
    cluster = restore(history, tmp_path, target=history["target"])
    try:
        print(f"restore to the marked time: {time.monotonic() - started:.1f}s")
        back = read_back(history, cluster, tmp_path)
    finally:
        cluster.destroy()
    written = history["written"]
    assert back["before-backup"] == sorted(written["before-backup"])
    assert back["after-backup"] == sorted(written["after-backup"])
    assert back["after-target"] == []


@pytest.fixture
def missing_segment(history, store):
    """The archived WAL segment that holds the comments written after the base backup, deleted for the test."""
    s3 = store[1]
    segment = history["after_backup_segment"]
    (key,) = [
        key for key in s3.keys(BUCKET, f"{PREFIX}/{SERVER_NAME}/wals/") if key.rsplit("/", 1)[1].startswith(segment)
    ]
    # Out of barman's way (under another prefix), and back after the test.
    aside = f"{PREFIX}-aside/{key}"
    s3.move(BUCKET, key, aside)
    try:
        yield segment
    finally:
        s3.move(BUCKET, aside, key)


def test_a_missing_wal_segment_fails_the_restore_to_a_time(history, missing_segment, tmp_path):
    with pytest.raises(RuntimeError, match="stopped during recovery"):
        restore(history, tmp_path, target=history["target"])
    log = (tmp_path / "restore-server.log").read_text()
    assert "recovery ended before configured recovery target was reached" in log
    assert f"WAL file {missing_segment} for server {SERVER_NAME} does not exist" in log


def test_a_missing_wal_segment_is_found_after_a_restore_to_the_latest_point(history, store, missing_segment, tmp_path):
    cluster = restore(history, tmp_path)
    try:
        assert archive_gap(cluster, store[1]) == missing_segment
        back = read_back(history, cluster, tmp_path)
    finally:
        cluster.destroy()
    # What PostgreSQL alone made of it: a database that stops at the hole, which the check above names.
    assert back["before-backup"] == sorted(history["written"]["before-backup"])
    assert back["after-backup"] == back["after-target"] == []
