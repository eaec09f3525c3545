"""An OTLP/HTTP trace receiver on 127.0.0.1: where the tests and the benchmark's traced row export spans.

It answers every export as Tempo does when it accepts all spans (200, an empty ExportTraceServiceResponse,
which serialises to no bytes) and counts what it got. With keep_bodies (the tests) it also keeps each request,
decompressed, and decodes the spans on demand with opentelemetry-proto; the benchmark keeps nothing, so the
receiver takes as little as possible of the CPU the app under test shares with it.
"""

import gzip
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OtlpReceiver:
    def __init__(self, keep_bodies: bool = True):
        self.keep_bodies = keep_bodies
        self.lock = threading.Lock()
        # (path, Content-Type, decompressed body) of each export request, when keep_bodies.
        self.requests: list[tuple[str, str, bytes]] = []
        self.exports = 0
        self.bytes = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.exports += 1
                    receiver.bytes += len(body)
                if receiver.keep_bodies:
                    encoding = self.headers.get("Content-Encoding", "")
                    if encoding == "gzip":
                        body = gzip.decompress(body)
                    elif encoding == "deflate":
                        body = zlib.decompress(body)
                    with receiver.lock:
                        receiver.requests.append((self.path, self.headers.get("Content-Type", ""), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def received(self) -> tuple[int, int]:
        """(export requests, bytes) received so far."""
        with self.lock:
            return self.exports, self.bytes

    def spans(self) -> list[dict]:
        """Every span received (keep_bodies), flattened with its service name."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        with self.lock:
            bodies = [body for _path, _type, body in self.requests]
        found = []
        for body in bodies:
            message = ExportTraceServiceRequest()
            message.ParseFromString(body)
            for resource_spans in message.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found.append(
                            {
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "kind": span.kind,
                                "attributes": {a.key: a.value for a in span.attributes},
                                "service": resource.get("service.name"),
                            }
                        )
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "OtlpReceiver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
