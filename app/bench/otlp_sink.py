"""An OTLP/HTTP receiver that accepts and drops everything, on 127.0.0.1: where the traced app row
exports its spans (a stand-in for Tempo's OTLP endpoint, so the row pays the real export cost)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.exports += 1
            self.server.bytes += len(body)
        # An empty ExportTraceServiceResponse: all spans accepted.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class OtlpSink:
    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.lock, self.server.exports, self.server.bytes = threading.Lock(), 0, 0
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "OtlpSink":
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def received(self) -> tuple[int, int]:
        """(export requests, bytes) received so far."""
        with self.server.lock:
            return self.server.exports, self.server.bytes
