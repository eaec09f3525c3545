"""Schema-based fuzzing: schemathesis generates requests from /openapi.json and checks the answers.

Run through schemathesis' CLI (a pinned version) against the real gunicorn server, on SQLite and
on PostgreSQL (which refuses more, NUL characters for one). Bounded by --max-examples so that
both runs take well under two minutes.
"""

import subprocess
import sys
from pathlib import Path

CHECKS = ",".join(
    (
        "not_a_server_error",  # never a 5xx
        "status_code_conformance",  # only documented status codes
        "content_type_conformance",
        "response_schema_conformance",  # bodies match the documented schemas
        "negative_data_rejection",  # input outside the schema is refused with a 4xx
        "unsupported_method",  # undocumented methods get 405
    )
)


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(server, tmp_path):
    schemathesis = Path(sys.executable).with_name("schemathesis")
    command = [
        str(schemathesis),
        "run",
        server.url("/openapi.json"),
        "--checks",
        CHECKS,
        "--max-examples",
        "100",
        "--seed",
        "20240323",
        "--workers",
        "2",
        "--request-timeout",
        "10",
        "--exclude-path",
        "/metrics",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path)

    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
