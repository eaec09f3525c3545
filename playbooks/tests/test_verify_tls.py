"""playbooks/tasks/verify-tls.yml, run for real by ansible-playbook against HTTPS servers on 127.0.0.1.

Kong and cert-manager cannot run here, so verify's TLS logic is tested on its own: throwaway CAs and server
certificates (throwaway_ca.py, with the tooling venv's pinned cryptography), Python's own HTTPS server presenting
them on free loopback ports, and a plain-HTTP server that redirects as Kong does (or does not). Nothing is mocked:
each failure is a real handshake or a real answer the task file must name (wrong CA, expired certificate, name
mismatch, a certificate other than the issued one, no redirect, no server, no CA file).
Run by `make verify-api`.
"""

import http.server
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from runner import ANSIBLE_PLAYBOOK, failed_task, run_playbook

PLAYBOOK = Path(__file__).with_name("verify-tls.yml")
TRUST_TASK = "Check that the certificate is trusted, current and valid for the host clients use."


class _Handler(http.server.BaseHTTPRequestHandler):
    """200 on HTTPS; on plain HTTP, a 308 to the same path on `redirect_to` (Kong's https redirect), or a 200."""

    redirect_to = None

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.redirect_to:
            self.send_response(308)
            self.send_header("Location", self.redirect_to + self.path)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server:
    """An HTTP(S) server on a free 127.0.0.1 port, in a thread, stopped by stop()."""

    def __init__(self, certificate=None, key=None, redirect_to=None):
        handler = type("Handler", (_Handler,), {"redirect_to": redirect_to})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if certificate:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certificate, key)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    python = ANSIBLE_PLAYBOOK.with_name("python")
    subprocess.run([str(python), str(Path(__file__).with_name("throwaway_ca.py")), str(folder)], check=True)
    return folder


@pytest.fixture
def serve():
    started = []

    def start(**kwargs):
        server = Server(**kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def flat(result):
    """The output with every run of whitespace as one space: the callback wraps long messages where it likes."""
    return " ".join(result.output.split())


def check(url, pki, ca="ca.crt", **extra):
    """Run the task file on url, trusting pki/ca, with extra variables (the issued PEM, the plain-HTTP URL)."""
    return run_playbook(PLAYBOOK, {"verify_tls_url": url, "verify_tls_ca_file": str(pki / ca), **extra})


def https(serve, pki, stem, host="127.0.0.1"):
    server = serve(certificate=pki / (stem + ".crt"), key=pki / (stem + ".key"))
    return server, "https://%s:%d" % (host, server.port)


def test_passes_with_the_right_ca_the_issued_certificate_and_the_redirect(pki, serve):
    _server, url = https(serve, pki, "good")
    plain = serve(redirect_to=url)
    result = check(
        url,
        pki,
        verify_tls_issued_pem=(pki / "good.crt").read_text(),
        verify_tls_http_url="http://127.0.0.1:%d/api/comment/list/1?x=1" % plain.port,
    )
    assert result.returncode == 0, result.output
    # Every check ran: none was skipped on the way to success.
    assert "skipping" not in result.output.split("PLAY RECAP")[0], result.output


def test_passes_by_name_too(pki, serve):
    # localhost is in the certificate, and the name is sent by SNI.
    _server, url = https(serve, pki, "good", host="localhost")
    result = check(url, pki)
    assert result.returncode == 0, result.output


def test_fails_on_a_wrong_ca(pki, serve):
    _server, url = https(serve, pki, "good")
    result = check(url, pki, ca="other-ca.crt")
    assert result.returncode != 0
    assert failed_task(result) == TRUST_TASK
    assert "the certificate does not chain to the CA in %s" % (pki / "other-ca.crt") in flat(result)
    assert "verify-tls test CA" in flat(result)  # the issuer the server presents, for the reader


def test_fails_on_an_expired_certificate(pki, serve):
    _server, url = https(serve, pki, "expired")
    result = check(url, pki)
    assert result.returncode != 0
    assert failed_task(result) == TRUST_TASK
    assert "TLS check failed for %s: the certificate has expired" % url in flat(result)


def test_fails_on_a_name_mismatch(pki, serve):
    _server, url = https(serve, pki, "wrong-name")
    result = check(url, pki)
    assert result.returncode != 0
    assert failed_task(result) == TRUST_TASK
    assert "the certificate is not valid for 127.0.0.1 (name mismatch)" in flat(result)


def test_fails_when_the_served_certificate_is_not_the_issued_one(pki, serve):
    # A renewed Secret that the gateways have not loaded yet: trusted and valid, but not what cert-manager issued.
    _server, url = https(serve, pki, "good")
    result = check(url, pki, verify_tls_issued_pem=(pki / "wrong-name.crt").read_text())
    assert result.returncode != 0
    assert failed_task(result) == "Check that the served certificate is the one cert-manager issued."
    assert "serves a certificate other than the one cert-manager issued" in flat(result)


REDIRECT_TASK = "Check that plain HTTP answers a redirect to the same URL on HTTPS."


@pytest.mark.parametrize(
    "redirect_to, expected",
    [
        (None, "answered 200 without a Location: plain HTTP must redirect to {url}/apidocs"),
        ("https://elsewhere.example", "answered 308 with Location https://elsewhere.example/apidocs"),
    ],
    ids=["no-redirect", "redirect-elsewhere"],
)
def test_fails_when_plain_http_does_not_redirect_to_https(redirect_to, expected, pki, serve):
    _server, url = https(serve, pki, "good")
    plain = serve(redirect_to=redirect_to)
    result = check(url, pki, verify_tls_http_url="http://127.0.0.1:%d/apidocs" % plain.port)
    assert result.returncode != 0
    assert failed_task(result) == REDIRECT_TASK
    assert expected.format(url=url) in flat(result)


def test_fails_when_nothing_answers_tls(pki, serve):
    server, url = https(serve, pki, "good")
    server.stop()
    result = check(url, pki)
    assert result.returncode != 0
    assert failed_task(result) == "Check that the server answers TLS at verify_tls_url."


def test_fails_without_the_ca_file(pki, tmp_path):
    result = run_playbook(
        PLAYBOOK, {"verify_tls_url": "https://127.0.0.1:1", "verify_tls_ca_file": str(tmp_path / "ca.crt")}
    )
    assert result.returncode != 0
    assert failed_task(result) == "Check that the CA file exists."
    assert "playbooks/site.yml writes it" in flat(result)


def test_fails_on_a_url_that_is_not_https():
    result = run_playbook(PLAYBOOK, {"verify_tls_url": "http://127.0.0.1"})
    assert result.returncode != 0
    assert failed_task(result) == "Check that verify_tls_url is an https URL."
