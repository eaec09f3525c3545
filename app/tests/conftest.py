"""Fixtures: an in-process app and client, a throwaway PostgreSQL, and real gunicorn servers."""

import uuid

import pytest

from comments_api import create_app
from comments_api.config import Settings
from comments_harness import AppServer, PostgresCluster

BACKENDS = ("sqlite", "postgresql")


# -- in-process ------------------------------------------------------------------------------
@pytest.fixture
def app(tmp_path):
    return create_app(Settings.from_env({"DATA_DIR": str(tmp_path), "LOG_REQUESTS": "false"}))


@pytest.fixture
def client(app):
    return app.test_client()


# -- PostgreSQL ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres():
    """One cluster for the whole run; each server fixture gets a database of its own."""
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.destroy()


# -- gunicorn servers ------------------------------------------------------------------------
@pytest.fixture
def start_server(tmp_path_factory):
    """Start `comments-api` processes with the given environment; all stopped after the test."""
    started = []

    def start(env: dict, workers: int = 2) -> AppServer:
        log = tmp_path_factory.mktemp("server") / "server.log"
        server = AppServer(env, log, workers=workers).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("sqlite-server")
    server = AppServer({"DATA_DIR": str(root / "data")}, root / "server.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgresql_server(postgres, tmp_path_factory):
    root = tmp_path_factory.mktemp("postgresql-server")
    server = AppServer({"DATABASE_URL": postgres.fresh_database()}, root / "server.log").start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def server(request) -> AppServer:
    """A running server on each backend in turn: the test runs once on SQLite, once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def content_id() -> str:
    """A content id no other test uses, so tests can share a server."""
    return "c" + uuid.uuid4().hex[:16]
