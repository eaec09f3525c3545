"""playbooks/tasks/verify-api.yml, run for real by ansible-playbook against the app started locally on PostgreSQL.

The servers come from comments_harness (app/comments_harness/: a throwaway PostgreSQL cluster with initdb/pg_ctl,
the app under gunicorn, both on free 127.0.0.1 ports). No test doubles: every failure below is a real condition the
task file must notice (no server, a wrong path, a misconfigured app, the database gone).
Run by `make verify-api` with the app's venv (comments_harness, psycopg); ansible-playbook comes from the tooling venv.
"""

import re
from pathlib import Path

import psycopg
import pytest
from runner import failed_task, run_playbook

from comments_harness import AppServer, PostgresCluster

PLAYBOOK = Path(__file__).with_name("verify-api.yml")
MARKER = re.compile(r"\[verify ([a-z0-9]{12})\]")


def run_verify(base_url: str | None):
    """ansible-playbook on the tiny playbook that includes the task file; output kept for the assertions."""
    return run_playbook(PLAYBOOK, None if base_url is None else {"verify_api_base_url": base_url})


def stored(database_url: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT id, content_id, email, comment FROM comments ORDER BY id").fetchall()


@pytest.fixture(scope="module")
def postgres():
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def start_app(tmp_path):
    """Start comments-api with the given environment; every one started is stopped after the test."""
    started = []

    def start(env: dict) -> AppServer:
        server = AppServer({"LOG_REQUESTS": "false", **env}, tmp_path / f"app-{len(started)}.log").start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_passes_and_passes_again_on_the_data_it_left(postgres, start_app):
    database_url = postgres.fresh_database()
    app = start_app({"DATABASE_URL": database_url})

    first = run_verify(app.base_url)
    assert first.returncode == 0, first.output
    rows = stored(database_url)
    # What the task file claims, seen in the database itself: six comments, three per content, in order.
    assert [(content, comment.split(" [verify")[0]) for _, content, _, comment in rows] == [
        ("1", "first post!"),
        ("1", "ok, now I am gonna say something more useful"),
        ("1", "I agree"),
        ("2", "I guess this is a good thing"),
        ("2", "Indeed, dear Bob, I believe so as well"),
        ("2", "Nah, you both are wrong"),
    ]
    assert not [row for row in rows if "refused" in row[3]], "a refused input was stored"

    # A re-run on a database that already holds comments (the first run's) must pass too, with its own marker.
    second = run_verify(app.base_url)
    assert second.returncode == 0, second.output
    rows = stored(database_url)
    assert len(rows) == 12
    assert len({MARKER.search(row[3]).group(1) for row in rows}) == 2


def test_fails_without_a_base_url():
    result = run_verify(None)
    assert result.returncode != 0
    assert failed_task(result) == "Check that verify_api_base_url is set to an http(s) URL."
    assert "verify_api_base_url must be the API's base URL" in result.output
    assert "the variable is not set" in result.output


def test_fails_clearly_when_nothing_listens(postgres, start_app):
    app = start_app({"DATABASE_URL": postgres.fresh_database()})
    app.stop()

    result = run_verify(app.base_url)
    assert result.returncode != 0
    assert failed_task(result) == "Check that the comments API answers at verify_api_base_url."
    assert f"The comments API does not answer at {app.base_url}" in result.output
    assert "no answer" in result.output


def test_fails_on_a_base_url_with_a_wrong_path(postgres, start_app):
    # The app answers, but /v1/api/... is none of its routes: its 404 is an ERROR, not the API's NOT-FOUND.
    database_url = postgres.fresh_database()
    app = start_app({"DATABASE_URL": database_url})

    result = run_verify(app.base_url + "/v1")
    assert result.returncode != 0
    assert failed_task(result) == "Check that the comments API answers at verify_api_base_url."
    assert "HTTP 404" in result.output and "'ERROR'" in result.output
    assert stored(database_url) == []


def test_fails_when_the_app_refuses_the_comments(postgres, start_app):
    # A misconfigured app: comments longer than 30 characters are refused, so the first post (33 with its marker)
    # gets 400.
    database_url = postgres.fresh_database()
    app = start_app({"DATABASE_URL": database_url, "MAX_COMMENT_LENGTH": "30"})

    result = run_verify(app.base_url)
    assert result.returncode != 0
    assert failed_task(result) == "Post the six comments, one after the other."
    assert "Status code was 400" in result.output
    assert "comment" in result.output and "30" in result.output


def test_fails_when_the_database_is_gone(start_app):
    # Its own cluster: stopping it must not take the other tests' database with it.
    cluster = PostgresCluster()
    cluster.start()
    try:
        app = start_app({"DATABASE_URL": cluster.fresh_database()})
        cluster.stop()

        result = run_verify(app.base_url)
        assert result.returncode != 0
        assert failed_task(result) == "Check that the comments API answers at verify_api_base_url."
        assert "HTTP 503" in result.output
    finally:
        cluster.destroy()
