"""A fault-injecting HTTP proxy, put in front of an emulator's endpoint: throttling and
outages of chosen API operations, for as many calls as asked or for good.

The operation of a request is its JSON-protocol target (``X-Amz-Target: ElasticMapReduce.
DescribeStep`` -> ``DescribeStep``) or, for REST APIs, its method and path
(``GET /api/2.2/jobs/runs/get``). Every request is counted per operation (``calls``).
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["Fault", "FaultyProxy", "throttling", "unavailable"]


@dataclass
class Fault:
    """Answer ``status`` with ``body`` to requests of ``operation`` (ending in ``*``: every
    operation it starts, e.g. ``GET /applications/*`` for a REST path with ids in it);
    ``times``: that many calls (None: every call)."""

    def matches(self, operation: str) -> bool:
        if self.operation.endswith("*"):
            return operation.startswith(self.operation[:-1])
        return operation == self.operation

    operation: str
    status: int
    body: bytes
    content_type: str = "application/x-amz-json-1.1"
    times: int | None = None


def throttling(operation: str, times: int | None = None) -> Fault:
    """AWS's throttling answer of a JSON-protocol API, which botocore retries."""
    body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
    return Fault(operation, 400, body, times=times)


def unavailable(operation: str, times: int | None = None) -> Fault:
    return Fault(operation, 503, b"Service Unavailable", content_type="text/plain", times=times)


class FaultyProxy:
    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target_host, self.target_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.faults: list[Fault] = []
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _fault_for(self, operation: str) -> Fault | None:
        with self._lock:
            self.calls[operation] += 1
            for fault in self.faults:
                if fault.matches(operation) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    self.injected[fault.operation] += 1
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                target = self.headers.get("X-Amz-Target")
                operation = target.rpartition(".")[2] if target else f"{self.command} {self.path}"
                fault = proxy._fault_for(operation.split("?")[0])
                if fault is not None:
                    self.send_response(fault.status)
                    self.send_header("Content-Type", fault.content_type)
                    self.send_header("Content-Length", str(len(fault.body)))
                    self.end_headers()
                    self.wfile.write(fault.body)
                    return
                connection = http.client.HTTPConnection(
                    proxy.target_host, proxy.target_port, timeout=60
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

        return Handler
