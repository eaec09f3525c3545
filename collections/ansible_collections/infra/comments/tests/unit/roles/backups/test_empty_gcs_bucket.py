# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/backups/files/empty-gcs-bucket.py (reset.yml with reset_delete_backups on GCP), run for real.

GCP cannot be reached here, so a small HTTP server on 127.0.0.1 answers as the metadata server (a token, only with
the Metadata-Flavor header) and as the Cloud Storage JSON API (objects listed with their versions, two per page,
deleted by generation, only with that token). The script is the one the role runs, with the two base URLs pointed at
it; what is checked is its own logic: every version of every object deleted across pages, names quoted, a refusal
reported with its status.
"""

import json
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[4] / "roles" / "backups" / "files" / "empty-gcs-bucket.py"
TOKEN = "ya29.test-token"
BUCKET = "my-project-comments-backups"


class FakeGoogle(BaseHTTPRequestHandler):
    objects = set()
    forbid_delete = False

    def log_message(self, *args):
        pass

    def answer(self, status, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/token":
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.answer(403, {"error": "missing Metadata-Flavor"})
            return self.answer(200, {"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"})
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.answer(401, {"error": "no token"})
        if url.path == "/storage/v1/b/%s/o" % BUCKET:
            query = urllib.parse.parse_qs(url.query)
            assert query["versions"] == ["true"]
            # Like Cloud Storage's, the page token is a cursor (the last version listed), not an offset.
            after = tuple(json.loads(query["pageToken"][0])) if "pageToken" in query else ("", 0)
            rest = [version for version in sorted(self.objects) if version > after]
            page = {"items": [{"name": name, "generation": str(generation)} for name, generation in rest[:2]]}
            if len(rest) > 2:
                page["nextPageToken"] = json.dumps(rest[1])
            return self.answer(200, page)
        return self.answer(404, {"error": "not found"})

    def do_DELETE(self):
        url = urllib.parse.urlsplit(self.path)
        if self.headers.get("Authorization") != "Bearer " + TOKEN or self.forbid_delete:
            return self.answer(403, {"error": {"message": "storage.objects.delete denied"}})
        prefix = "/storage/v1/b/%s/o/" % BUCKET
        name = urllib.parse.unquote(url.path[len(prefix) :])
        generation = int(urllib.parse.parse_qs(url.query)["generation"][0])
        if (name, generation) not in self.objects:
            return self.answer(404, {"error": "no such version"})
        self.objects.discard((name, generation))
        return self.answer(204)


@pytest.fixture
def google():
    FakeGoogle.objects = set()
    FakeGoogle.forbid_delete = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGoogle)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def run(base):
    env = {"METADATA_URL": base + "/token", "STORAGE_URL": base + "/storage/v1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), BUCKET], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_every_version_of_every_object_is_deleted_across_pages(google):
    FakeGoogle.objects = {
        ("comments-db-20261201030000/wals/0000000100000000/000000010000000000000001.gz", 1),
        ("comments-db-20261201030000/wals/0000000100000000/000000010000000000000001.gz", 2),
        ("comments-db-20261201030000/base/20261201T030012/data.tar.gz", 7),
        ("comments-db-20261201030000/base/20261201T030012/backup.info", 8),
        ("odd name with spaces+plus", 3),
    }
    result = run(google)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deleted 5 object versions from gs://%s" % BUCKET
    assert FakeGoogle.objects == set()


def test_an_empty_bucket_deletes_nothing(google):
    result = run(google)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deleted 0 object versions from gs://%s" % BUCKET


def test_a_refused_delete_stops_with_the_status(google):
    FakeGoogle.objects = {("a", 1)}
    FakeGoogle.forbid_delete = True
    result = run(google)
    assert result.returncode != 0
    assert "answered 403" in result.stderr and "storage.objects.delete denied" in result.stderr
    assert FakeGoogle.objects == {("a", 1)}


def test_no_metadata_server_is_reported():
    result = run("http://127.0.0.1:9")
    assert result.returncode != 0
    assert "failed" in result.stderr and "/token" in result.stderr
