"""Loopback HTTP servers for the tests: a folder served, a handler of one's
own, an address where nothing listens."""

from __future__ import annotations

import contextlib
import functools
import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path


def closed_loopback_url() -> str:
    """An http:// address on loopback where nothing listens: a refused connection."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, format: str, *args: object) -> None:
        type(self).requests.append(self.path)


class EnvoyAnswers(http.server.BaseHTTPRequestHandler):
    """A quiet handler that answers as the mesh's ingress does: Envoy names
    itself `server: istio-envoy` (istio pilot/pkg/networking/util/proxy_headers.go)."""

    def version_string(self) -> str:
        return "istio-envoy"

    def answer(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_loopback(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering with `handler`; yields its base URL.
    It polls for shutdown every 50 ms, so a test ends in milliseconds."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """An HTTP server on 127.0.0.1 for `directory`'s files (404 for others), the
    folder made if missing; yields its base URL, the folder and the paths requested so far."""
    directory.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"requests": requests})
    with serve_loopback(functools.partial(handler, directory=str(directory))) as url:
        yield url, directory, requests
